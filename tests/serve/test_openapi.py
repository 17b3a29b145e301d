"""docs/openapi.json is in step with the server's routes: every documented
path and method is served (never no_route or 405), and every other method
on a documented path is a 405 whose Allow lists exactly the documented ones."""
import json
import os
import re

import pytest

SPEC = os.path.join(os.path.dirname(__file__), "../../docs/openapi.json")
METHODS = ("get", "put", "post", "delete", "patch")
# Names that exist nowhere, so no probe changes anything.
FILL = {"id": "nosuch", "exec_id": "0000000000000000", "ref": "no/such:1", "name": "nosuch"}


def spec():
    with open(SPEC) as f:
        return json.load(f)


def concrete(template):
    return re.sub(r"\{(\w+)\}", lambda m: FILL[m.group(1)], template)


def documented_methods(doc, path):
    """The methods of every template that matches a concrete path."""
    out = set()
    for template, item in doc["paths"].items():
        pattern = "^" + re.sub(r"\\\{\w+\\\}", "[^/]+(/[^/]+)*" if "{ref}" in template else "[^/]+",
                               re.escape(template)) + "$"
        if re.match(pattern, path):
            out |= {m.upper() for m in item if m in METHODS}
    return out


def test_the_spec_is_openapi_3_with_examples_in_the_docs():
    doc = spec()
    assert doc["openapi"].startswith("3.")
    with open(os.path.join(os.path.dirname(SPEC), "api.md")) as f:
        prose = f.read()
    for template in doc["paths"]:
        # Every endpoint is in docs/api.md too, by its path.
        stem = template.replace("{id}", "").replace("{exec_id}", "").replace("{ref}", "").rstrip("/")
        last = stem.rsplit("/", 1)[-1]
        assert last in prose, template


@pytest.mark.parametrize("template", sorted(spec()["paths"]))
def test_documented_routes_are_served(api, template):
    doc = spec()
    path = concrete(template)
    want = documented_methods(doc, path)
    for method in METHODS:
        # Streams (the events) never end on their own: the head says enough.
        with api.stream(method.upper(), path, content=b'{"__probe__": 1}',
                        headers={"Content-Type": "application/json"}) as r:
            if "ndjson" not in r.headers.get("content-type", ""):
                r.read()
        if method.upper() in want:
            assert r.status_code != 405, (method, path, r.text)
            if r.status_code == 404:
                assert r.json()["error"]["code"] != "no_route", (method, path, r.text)
        else:
            assert r.status_code == 405, (method, path, r.status_code, r.text)
            allow = {m.strip() for m in r.headers["allow"].split(",")}
            assert allow == want, (method, path, allow, want)


def test_undocumented_paths_are_no_route(api):
    for path in ("/v1/nope", "/v1/sandboxes/nosuch/nope", "/v1/sandboxes/nosuch/files/nope",
                 "/v1/sandboxes/nosuch/execs/0000000000000000/nope/x", "/v2/sandboxes", "/v1/sandboxes/a/b/c/d/e/f"):
        r = api.get(path)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error"]["code"] == "no_route", (path, r.text)
