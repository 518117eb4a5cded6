#!/usr/bin/python3
"""Sends errors with Debian's python3-sentry-sdk (a real Sentry client) for the browser tests.

env SENTRY_DSN, RELEASE, ENVIRONMENT, SERVER_NAME, REPEAT (events of the main error).
Each error is raised inside a transaction, so its event carries contexts.trace.trace_id; the
trace ids are printed as one JSON object on the last line of stdout ({"<kind>": "<trace id>"})
for the test to send log lines of the same traces.
"""
import json
import os

import sentry_sdk

sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], release=os.environ.get("RELEASE", "shop@1.4.2"),
                environment=os.environ.get("ENVIRONMENT", "production"),
                server_name=os.environ.get("SERVER_NAME", "ui-web-1"), traces_sample_rate=1.0,
                default_integrations=True)
sentry_sdk.set_tag("component", "checkout")
sentry_sdk.set_user({"id": "u-42", "email": "dev@example.invalid"})


def parse_order(raw):
    # A library frame (json) under an in-app one.
    return json.loads(raw)


def charge(order_id, amount_cents):
    if amount_cents > 10000:
        raise ValueError("card declined for order %d" % order_id)
    return amount_cents


def checkout(order_id):
    sentry_sdk.add_breadcrumb(category="db", message="SELECT * FROM orders WHERE id=%d" % order_id, level="info")
    sentry_sdk.add_breadcrumb(category="http", message="POST /api/charge", level="warning",
                              data={"status_code": 402})
    return charge(order_id, 12500)


traces = {}
for i in range(int(os.environ.get("REPEAT", "3"))):
    with sentry_sdk.start_transaction(op="task", name="checkout") as txn:
        try:
            checkout(40 + i)
        except ValueError:
            sentry_sdk.capture_exception()
        traces["declined"] = txn.trace_id
with sentry_sdk.start_transaction(op="task", name="import-orders") as txn:
    try:
        parse_order("{not json")
    except ValueError:
        sentry_sdk.capture_exception()
    traces["parse"] = txn.trace_id
sentry_sdk.capture_message("disk almost full", level="warning")
sentry_sdk.flush(timeout=10)
print(json.dumps(traces))
