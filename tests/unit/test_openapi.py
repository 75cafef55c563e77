"""GET /api/openapi.json and the /docs/api page: the document is valid OpenAPI 3.1
(openapi-spec-validator), names exactly the app's /api routes (a route missing from it,
or a documented route the app does not have, fails here), and what the API really
answers fits the documented shapes, errors included."""
from __future__ import annotations

import re

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from tests.conftest import basic_auth

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def doc(client):
    answer = client.get("/api/openapi.json")
    assert answer.status_code == 200
    return answer.get_json()


def documented_path(rule: str) -> str:
    """A Flask rule below /api as the document writes it: ``/tasks/{task_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.removeprefix("/api"))


def app_operations(app) -> set[tuple[str, str]]:
    return {(documented_path(rule.rule), method.lower()) for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/api/") for method in rule.methods - IGNORED_METHODS}


def doc_operations(doc) -> set[tuple[str, str]]:
    return {(path, method) for path, item in doc["paths"].items() for method in item
            if method in {"get", "post", "put", "patch", "delete"}}


def test_the_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # raises on any structural fault, unresolved $ref included
    assert doc["servers"] == [{"url": "/api"}]


def test_every_api_route_is_documented_and_nothing_else(app, doc):
    in_app, in_doc = app_operations(app), doc_operations(doc)
    assert sorted(in_app - in_doc) == [], "routes missing from webapp/web/openapi_paths.py"
    assert sorted(in_doc - in_app) == [], "documented routes the app does not have"
    assert len(in_app) >= 28


def test_path_parameters_match_the_routes_and_errors_use_the_error_shape(doc):
    error = doc["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message"]
    assert set(error["properties"]["error"]["properties"]) == {"code", "message", "field"}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            named = set(re.findall(r"{([^}]+)}", path))
            params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert params == named, f"{method} {path}"
            assert "401" in operation["responses"], f"{method} {path}: every route needs sign-in"
            for status, answer in operation["responses"].items():
                if status[0] in "45":
                    assert answer["$ref"].startswith("#/components/responses/"), f"{method} {path} {status}"


def fits(doc, app, method: str, url: str, answer) -> None:
    """The answer's JSON fits the schema documented for its route, method and status."""
    rule, _ = app.url_map.bind("localhost").match(url.split("?")[0], method, return_rule=True)
    responses = doc["paths"][documented_path(rule.rule)][method.lower()]["responses"]
    status = str(answer.status_code)
    assert status in responses, f"{method} {url} answered {status}, which is not documented"
    documented = responses[status]
    if "$ref" in documented:
        documented = doc["components"]["responses"][documented["$ref"].rsplit("/", 1)[1]]
    if "content" not in documented:
        assert answer.data == b"", f"{method} {url}: a body where none is documented"
        return
    schema = {**documented["content"]["application/json"]["schema"], "components": doc["components"]}
    errors = [e.message for e in OAS31Validator(schema).iter_errors(answer.get_json())]
    assert errors == [], f"{method} {url} {status}: {errors[:3]}"


def test_what_the_api_answers_fits_the_document(app, client, doc):
    calls = []

    def call(method: str, url: str, **kwargs):
        answer = client.open(url, method=method, **kwargs)
        fits(doc, app, method, url, answer)
        calls.append((method, url, answer.status_code))
        return answer

    task = call("POST", "/api/tasks", json={"name": "doc check", "kind": "shell",
                                            "config": {"command": "echo hi"},
                                            "schedule": {"type": "cron", "expr": "0 2 * * *"},
                                            "retries": {"max": 1, "backoff": [5]}}).get_json()
    tid = task["id"]
    call("POST", "/api/tasks", json={"name": "doc check", "kind": "shell", "config": {"command": "x"}})
    call("POST", "/api/tasks", json={"name": "", "kind": "shell"})
    call("GET", "/api/tasks")
    call("GET", f"/api/tasks/{tid}")
    call("GET", "/api/tasks/999999")
    call("PATCH", f"/api/tasks/{tid}", json={"enabled": False})
    run = call("POST", f"/api/tasks/{tid}/run").get_json()
    assert call("GET", "/api/panels").get_json()["running"]  # the queued run, with its task's name
    call("GET", f"/api/tasks/{tid}/runs?limit=5")
    call("GET", f"/api/tasks/{tid}/runs?limit=0")
    call("GET", f"/api/tasks/{tid}/stats")
    call("GET", f"/api/runs/{run['run_id']}")
    call("POST", f"/api/runs/{run['run_id']}/stop")
    call("POST", f"/api/runs/{run['run_id']}/stop")
    call("GET", "/api/runs/search?q=hi")
    call("GET", "/api/runs/search?q=")
    call("GET", "/api/runs/search?q=hi&task=999999")
    call("GET", "/api/events?since=0")
    call("GET", "/api/panels")
    call("GET", "/api/schedule/preview?cron=*/5+*+*+*+*&count=2")
    call("GET", "/api/schedule/preview?cron=nonsense")
    call("GET", "/api/scheduler")
    call("POST", "/api/scheduler/pause")
    call("POST", "/api/scheduler/resume")
    call("GET", "/api/users")
    call("POST", "/api/users", json={"username": "dora", "role": "operator"})
    call("GET", "/api/audit?limit=3")
    channel = call("POST", "/api/channels", json={"name": "hook", "url": "json://localhost:9/hook"}).get_json()
    call("GET", "/api/channels")
    call("GET", f"/api/channels/{channel['id']}")
    call("PATCH", f"/api/channels/{channel['id']}", json={"enabled": True})
    call("POST", f"/api/channels/{channel['id']}/test")
    call("GET", "/api/notifications")
    call("DELETE", f"/api/channels/{channel['id']}")
    call("GET", "/api/openapi.json")
    call("DELETE", f"/api/tasks/{tid}")
    stranger = app.test_client().get("/api/tasks")
    fits(doc, app, "GET", "/api/tasks", stranger)
    assert {status for *_, status in calls} >= {200, 201, 202, 204, 400, 404, 409}


def test_a_viewer_is_refused_a_change_as_documented(app, client, doc):
    from webapp.access import users

    with app.app_context():
        users.create_user("vera", "viewer", "viewer-password-1")
    viewer = app.test_client()
    viewer.environ_base["HTTP_AUTHORIZATION"] = basic_auth("vera", "viewer-password-1")
    answer = viewer.post("/api/tasks", json={"name": "x", "kind": "shell", "config": {"command": "true"}})
    assert answer.status_code == 403
    fits(doc, app, "POST", "/api/tasks", answer)
    assert viewer.get("/api/openapi.json").status_code == 200


def test_the_docs_page_shows_every_operation_without_a_script(app, client, doc):
    page = client.get("/docs/api")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # Rendered on the server: the only scripts are the pages' shared ones (the theme
    # picked before the first paint, the shortcuts), files under the CSP, none inline.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts and all('src="/static/js/' in attrs and not body.strip() for attrs, body in scripts), scripts
    assert not any("openapi" in attrs or "swagger" in attrs or "redoc" in attrs for attrs, _ in scripts)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert html.count('data-testid="api-operation"') == len(doc_operations(doc))
    assert 'data-method="GET" data-path="/runs/search"' in html
    assert 'id="schema-SearchHit"' in html and 'href="#schema-SearchResult"' in html
    assert 'href="/api/openapi.json"' in html
    assert app.test_client().get("/docs/api").status_code == 302  # strangers go to sign in
