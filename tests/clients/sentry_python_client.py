#!/usr/bin/python3
"""Drives Debian's python3-sentry-sdk (1.9.x) against kansoku: run with /usr/bin/python3.

env: SENTRY_DSN (required), EXTRA_MESSAGES (default 0): more capture_message calls with varying
numbers, to check that they group into one issue; TRACE=1: the exception is raised inside a
transaction, so the event carries its trace id (printed as "trace <id>").
Sends one exception (tags, user, breadcrumb, local variables) and one message, then flushes.
Prints the event ids, one per line: "exception <id>" / "message <id>".
"""
import os
import sentry_sdk

sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], release="kansoku-e2e@1.0.0", environment="test",
                traces_sample_rate=0)
sentry_sdk.set_tag("component", "checkout")
sentry_sdk.set_user({"id": "u-42", "email": "dev@example.invalid"})
sentry_sdk.add_breadcrumb(category="db", message="SELECT * FROM orders WHERE id=42", level="info")


def charge(order_id):
    amount_cents = order_id * 100
    raise ValueError("card declined for order %d (%d cents)" % (order_id, amount_cents))


if os.environ.get("TRACE"):
    with sentry_sdk.start_transaction(name="checkout", op="task") as txn:
        print("trace", txn.trace_id)
        try:
            charge(42)
        except ValueError:
            print("exception", sentry_sdk.capture_exception())
else:
    try:
        charge(42)
    except ValueError:
        print("exception", sentry_sdk.capture_exception())
print("message", sentry_sdk.capture_message("disk almost full", level="warning"))
for i in range(int(os.environ.get("EXTRA_MESSAGES", "0"))):
    print("message", sentry_sdk.capture_message("queue %d is %d%% full" % (i, 50 + i), level="warning"))
sentry_sdk.flush(timeout=10)
