"""End to end: the dashboards API (docs/design/dashboards.md) on the real server: scopes,
validation errors that name the field, optimistic versions, and saves that survive kill -9."""
import json
import unittest

import harness


def doc(title="Web tier", **extra):
    d = {
        "title": title,
        "tags": ["web"],
        "variables": [{"name": "host", "label": "instance", "match": "up", "multi": True, "all": True}],
        "panels": [
            {"id": 1, "type": "timeseries", "title": "Load", "grid": {"x": 0, "y": 0, "w": 12, "h": 8},
             "queries": [{"expr": 'node_load1{instance=~"$host"}', "legend": "{{instance}}"}],
             "options": {"unit": "none", "stacked": False}},
            {"id": 2, "type": "logs", "title": "Logs", "grid": {"x": 12, "y": 0, "w": 12, "h": 8}},
        ],
        "x_custom": {"kept": True},
    }
    d.update(extra)
    return d


class DashboardsApiTest(unittest.TestCase):
    def setUp(self):
        self.s = harness.Server().start()

    def tearDown(self):
        if self.s.proc is not None:
            self.s.stop()
        self.s.cleanup()

    def token(self, scopes):
        st, body = self.s.json("POST", "/api/v1/tokens", json.dumps({"name": "+".join(scopes), "scopes": scopes}))
        self.assertEqual(st, 201, body)
        return body["data"]["token"]

    def test_create_get_list_update_delete(self):
        st, body = self.s.json("POST", "/api/v1/dashboards", json.dumps(doc()))
        self.assertEqual(st, 201, body)
        d = body["data"]
        self.assertEqual(d["id"], "web-tier")
        self.assertEqual(d["version"], 1)
        self.assertEqual(d["updated_by"], "admin")
        self.assertEqual(d["x_custom"], {"kept": True})
        self.assertEqual(d["panels"][0]["queries"][0]["expr"], 'node_load1{instance=~"$host"}')
        # Same title again: a fresh id.
        st, body = self.s.json("POST", "/api/v1/dashboards", json.dumps(doc()))
        self.assertEqual((st, body["data"]["id"]), (201, "web-tier-2"))
        # A given id that exists: 409.
        st, body = self.s.json("POST", "/api/v1/dashboards", json.dumps(doc(id="web-tier")))
        self.assertEqual(st, 409, body)
        st, body = self.s.json("GET", "/api/v1/dashboards")
        self.assertEqual(st, 200)
        self.assertEqual([(x["id"], x["panels"], x["tags"]) for x in body["data"]],
                         [("web-tier", 2, ["web"]), ("web-tier-2", 2, ["web"])])
        # Update from version 1, then a stale update from version 1 is refused.
        st, body = self.s.json("PUT", "/api/v1/dashboards/web-tier", json.dumps(doc("Web v2", version=1)))
        self.assertEqual((st, body["data"]["version"]), (200, 2), body)
        st, body = self.s.json("PUT", "/api/v1/dashboards/web-tier", json.dumps(doc("Web stale", version=1)))
        self.assertEqual(st, 409)
        self.assertIn("stored version is 2", body["error"])
        st, body = self.s.json("GET", "/api/v1/dashboards/web-tier")
        self.assertEqual(body["data"]["title"], "Web v2")
        # PUT to a new id creates it (201); the body's id must agree with the URL.
        st, body = self.s.json("PUT", "/api/v1/dashboards/ops", json.dumps(doc("Ops")))
        self.assertEqual(st, 201, body)
        st, body = self.s.json("PUT", "/api/v1/dashboards/ops", json.dumps(doc("Ops", id="other")))
        self.assertEqual(st, 400)
        self.assertIn("differs", body["error"])
        st, body = self.s.json("DELETE", "/api/v1/dashboards/ops")
        self.assertEqual(st, 200, body)
        st, body = self.s.json("GET", "/api/v1/dashboards/ops")
        self.assertEqual(st, 404)
        st, body = self.s.json("DELETE", "/api/v1/dashboards/ops")
        self.assertEqual(st, 404)
        st, body = self.s.json("GET", "/api/v1/dashboards/Not%20An%20Id")
        self.assertEqual(st, 404)

    def test_validation_names_the_field(self):
        cases = [
            ("{", "cannot parse JSON"),
            ('{"panels": []}', "title: required"),
            (json.dumps(doc(panels=[{"id": 1, "type": "pie", "grid": {"x": 0, "y": 0, "w": 1, "h": 1}}])),
             'panels[0].type: unknown panel type "pie"'),
            (json.dumps(doc(panels=[{"id": 1, "type": "stat", "grid": {"x": 20, "y": 0, "w": 6, "h": 1}}])),
             "panels[0].grid.w: x + w must be at most 24"),
            (json.dumps(doc(variables=[{"name": "a b", "label": "x"}])), "variables[0].name"),
        ]
        for body, want in cases:
            st, resp = self.s.json("POST", "/api/v1/dashboards", body)
            self.assertEqual(st, 400, body)
            self.assertIn(want, resp["error"], body)
        st, _, _ = self.s.request("POST", "/api/v1/dashboards", body=b"x" * (2 << 20))
        self.assertEqual(st, 413)

    def test_scopes(self):
        read, edit, ingest = self.token(["read"]), self.token(["edit", "read"]), self.token(["ingest"])
        st, body = self.s.json("POST", "/api/v1/dashboards", json.dumps(doc()), token=read)
        self.assertEqual(st, 403, body)
        st, body = self.s.json("POST", "/api/v1/dashboards", json.dumps(doc()), token=edit)
        self.assertEqual(st, 201, body)
        self.assertEqual(body["data"]["updated_by"], "edit+read")
        st, body = self.s.json("GET", "/api/v1/dashboards/web-tier", token=read)
        self.assertEqual(st, 200)
        st, _ = self.s.json("GET", "/api/v1/dashboards", token=ingest)
        self.assertEqual(st, 403)
        st, _ = self.s.json("DELETE", "/api/v1/dashboards/web-tier", token=read)
        self.assertEqual(st, 403)
        st, _ = self.s.json("GET", "/api/v1/dashboards", token=None)
        self.assertEqual(st, 401)

    def test_saved_dashboard_survives_kill9(self):
        for i in range(5):
            st, body = self.s.json("POST", "/api/v1/dashboards", json.dumps(doc("Dash %d" % i)))
            self.assertEqual(st, 201, body)
        st, body = self.s.json("PUT", "/api/v1/dashboards/dash-4", json.dumps(doc("Dash 4 edited", version=1)))
        self.assertEqual(st, 200, body)
        self.s.kill9()
        self.s.start()
        st, body = self.s.json("GET", "/api/v1/dashboards")
        self.assertEqual(len(body["data"]), 5)
        st, body = self.s.json("GET", "/api/v1/dashboards/dash-4")
        self.assertEqual((body["data"]["title"], body["data"]["version"]), ("Dash 4 edited", 2))


if __name__ == "__main__":
    unittest.main()
