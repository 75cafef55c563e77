"""Hostile input, as an attacker sends it and as a user would see it: random and
malformed JSON, wrong types, huge fields, odd Unicode, hostile query strings and ids,
script in names and output rendered by the server, and Socket.IO garbage. Every case
ends in a clear 4xx JSON error or a refusal, and nothing is stored."""
from __future__ import annotations

import json
import re
import uuid
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
import socketio as python_socketio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ADMIN_FOR_UNIT_TESTS as ADMIN
from tests.conftest import basic_auth

VALID = {"name": "scan", "kind": "shell", "config": {"command": "echo scan"}}
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
VIEWER = ("vera", "viewer-password-1")
FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def listing(client) -> list[dict]:
    response = client.get("/api/tasks")
    assert response.status_code == 200
    return response.get_json()["tasks"]


def assert_client_error(response, field: str | None = None) -> dict:
    """A 4xx with the API's JSON error shape (naming ``field`` when given)."""
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.is_json, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
    if field is not None:
        assert error.get("field") == field, error
    return error


def strict_json(text: str):
    """Parse as a browser's JSON.parse would: NaN and Infinity are not JSON."""
    def refuse(token):
        raise ValueError(f"not JSON: {token}")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def app_500s(app):
    """Unhandled errors come back as 500 responses (as in production), not exceptions."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


@pytest.fixture
def task(client) -> dict:
    response = client.post("/api/tasks", json=dict(VALID, description="d", timeout=60))
    assert response.status_code == 201
    return response.get_json()


@pytest.fixture
def viewer(app):
    from webapp.access import users

    with app.app_context():
        users.create_user(*VIEWER[:1], "viewer", VIEWER[1])
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = basic_auth(*VIEWER)
    return client


# --- random PATCH bodies ------------------------------------------------------------

JSON_SCALARS = (st.none() | st.booleans() | st.integers(-10**15, 10**15)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
PATCH_FIELDS = {
    "name": st.sampled_from(["taken", "scan", " renamed ", "", "x" * 201]) | st.text(max_size=30) | JSON_VALUES,
    "kind": st.sampled_from(["shell", "python", "perl"]) | JSON_VALUES,
    "config": st.fixed_dictionaries({}, optional={
        "command": st.sampled_from(["echo hi", "", " "]) | JSON_VALUES,
        "callable": st.sampled_from(["worker.examples:count_primes", "os:system"]) | JSON_VALUES,
        "kwargs": JSON_VALUES,
    }) | JSON_VALUES,
    "description": st.text(max_size=30) | JSON_VALUES,
    "schedule": st.none() | st.fixed_dictionaries({"type": st.sampled_from(["cron", "interval", "once", "?"])}, optional={
        "expr": st.sampled_from(["0 2 * * *", "bad", "61 * * * *"]) | JSON_VALUES,
        "seconds": st.integers(-5, 10**8) | JSON_VALUES,
        "at": st.sampled_from(["2031-01-01T00:00:00Z", "soon"]) | JSON_VALUES,
    }) | JSON_VALUES,
    "timezone": st.sampled_from(["UTC", "Asia/Kolkata", "Nowhere/Land", "../etc"]) | JSON_VALUES,
    "enabled": st.booleans() | JSON_VALUES,
    "timeout": st.integers(-5, 10**7) | JSON_VALUES,
    "retries": st.none() | st.fixed_dictionaries({}, optional={
        "max": st.integers(-1, 12) | JSON_VALUES, "backoff": st.lists(st.integers(-1, 10**5), max_size=12),
    }) | JSON_VALUES,
    "overlap": st.sampled_from(["skip", "allow", "queue", "never"]) | JSON_VALUES,
    "misfire": st.sampled_from(["run_once", "skip", "later"]) | JSON_VALUES,
    "id": st.integers(0, 10), "last_status": st.just("success"), "created_at": JSON_VALUES,
}


@st.composite
def patch_bodies(draw):
    """Mostly one to three fields (valid or not); sometimes any JSON at all."""
    if draw(st.integers(0, 9)) == 9:
        return draw(JSON_VALUES)
    fields = draw(st.sets(st.sampled_from(sorted(PATCH_FIELDS)), min_size=0, max_size=3))
    return {field: draw(PATCH_FIELDS[field]) for field in fields}


UNTOUCHED_BY_PATCH = {"updated_at", "next_run_at"}


@FUZZ
@given(data=patch_bodies())
def test_random_patch_bodies_never_cause_a_500_and_refusals_change_nothing(app, client, task, data):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    if not any(t["name"] == "taken" for t in listing(client)):
        assert client.post("/api/tasks", json=dict(VALID, name="taken")).status_code == 201
    url = f"/api/tasks/{task['id']}"
    before_all = listing(client)
    before = client.get(url).get_json()
    response = client.patch(url, json=data)
    assert response.status_code in (200, 400, 409), (response.status_code, response.get_data(as_text=True))
    assert response.is_json
    after = client.get(url).get_json()
    if response.status_code == 200:
        assert response.get_json() == after
        for key in set(before) - set(data) - UNTOUCHED_BY_PATCH:
            assert after[key] == before[key], (key, data)
        assert len(listing(client)) == len(before_all)
    else:
        error = assert_client_error(response)
        assert error["code"] == ("invalid" if response.status_code == 400 else "conflict")
        assert listing(client) == before_all


# --- odd Unicode in name, description and command -------------------------------------

ODD = [
    "\u200f", "\u200e", "\u202e", "\u202d", "\u2066", "\u2069",  # bidi marks and overrides
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",  # zero-width
    "\u0301", "\u0489", "\u20dd", "\u0336", "e\u0301", "\u0e49\u0e49\u0e49",  # combining
    "👍🏽", "👨\u200d👩\u200d👧", "🏳️\u200d🌈", "🇺🇳", "𝕏", "\U0010fffd", "\ue000",  # emoji, astral, private use
    "\u3000", "\u00a0", "\u2028", "\u2029", "\u0085", "\t", "\n", "\x1b[31m", "\x00", "\x7f",
    "\ud800", "\udfff", "\ufffe", "\uffff",  # lone surrogates, noncharacters
    "ß", "İ", "ﷺ", "ǅ", "Ⅻ", "½", "٣", "𐍈", "中文", "עברית", "العربية",
    "<", ">", "&", "'", '"', "\\", "%s", "{{7*7}}", "${x}", "'; DROP TABLE tasks;--",
]
ODD_TEXT = st.lists(st.sampled_from(ODD) | st.characters(codec="utf-8") | st.text(max_size=3),
                    min_size=1, max_size=12).map("".join)
FIELD_PATHS = {"name": ("name",), "description": ("description",), "command": ("config", "command")}
ERROR_FIELD = {"name": ("name",), "description": ("description",), "command": ("config.command", "config")}
# What a name may hold: letters, marks, numbers, punctuation, symbols and inner spaces.
NAME_OK = re.compile(r"^[LMNPS]|^Zs$")


def _name_acceptable(value: str) -> bool:
    import unicodedata

    name = value.strip()
    return (0 < len(name) <= 200 and all(NAME_OK.match(unicodedata.category(c)) for c in name))


def _storable_text(value: str) -> bool:
    return "\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)


@FUZZ
@given(field=st.sampled_from(sorted(FIELD_PATHS)), value=ODD_TEXT)
def test_odd_unicode_round_trips_exactly_or_is_refused_naming_the_field(app, client, field, value):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    body = json.loads(json.dumps(VALID))
    body["name"] = f"u-{uuid.uuid4().hex[:12]}"
    target = body
    for key in FIELD_PATHS[field][:-1]:
        target = target[key]
    target[FIELD_PATHS[field][-1]] = value
    before = listing(client)
    response = client.post("/api/tasks", json=body)
    if response.status_code == 201:
        stored = client.get(f"/api/tasks/{response.get_json()['id']}").get_json()
        got = stored
        for key in FIELD_PATHS[field]:
            got = got[key]
        expected = value.strip() if field == "name" else value
        assert got == expected, (field, ascii(value), ascii(got))
        assert response.get_json() == stored
        assert client.delete(f"/api/tasks/{stored['id']}").status_code == 204
    else:
        assert response.status_code == 400, (response.status_code, response.get_data(as_text=True))
        error = assert_client_error(response)
        # NUL and lone surrogates are caught on the whole config object: "config" names it too.
        assert error.get("field") in ERROR_FIELD[field], (ascii(value), error)
        assert listing(client) == before
    # Validation refuses only what it must.
    if field == "name" and _name_acceptable(value):
        assert response.status_code == 201, (ascii(value), response.get_json())
    if field == "description" and _storable_text(value) and len(value) <= 10_000:
        assert response.status_code == 201, (ascii(value), response.get_json())
    if field == "command" and _storable_text(value) and value.strip():
        assert response.status_code == 201, (ascii(value), response.get_json())


@pytest.mark.parametrize("value", ["\u202escan", "scan\u200b", "\ufeffscan", "a\u2028b", "a\x1bb", "\ud83dx"],
                         ids=["rtl-override", "zero-width-space", "bom", "line-separator", "escape", "lone-surrogate"])
def test_invisible_or_control_characters_in_a_name_are_refused(client, value):
    before = listing(client)
    assert_client_error(client.post("/api/tasks", json=dict(VALID, name=value)), "name")
    assert listing(client) == before


def test_names_in_other_scripts_and_with_emoji_are_kept_exactly(client):
    for name in ["סריקה לילית", "夜间扫描", "scan 👍🏽", "café", "cafe\u0301", "Ⅻ ½ ٣"]:
        response = client.post("/api/tasks", json=dict(VALID, name=name))
        assert response.status_code == 201, (name, response.get_json())
        assert client.get(f"/api/tasks/{response.get_json()['id']}").get_json()["name"] == name


# --- huge fields, malformed bodies -------------------------------------------------

def _deep(depth: int):
    value: object = "bottom"
    for _ in range(depth):
        value = {"k": value}
    return value


@pytest.mark.parametrize("changes,field", [
    ({"name": "n" * 100_000}, "name"),
    ({"description": "d" * 10_001}, "description"),
    ({"config": {"command": "c" * 10_001}}, "config.command"),
    ({"timezone": "Europe/" + "x" * 50_000}, "timezone"),
    ({"schedule": {"type": "cron", "expr": "* " * 20_000}}, "schedule.expr"),
    ({"retries": {"max": 1, "backoff": [1] * 20_000}}, "retries.backoff"),
    ({"timeout": 10**300}, "timeout"),
    ({"timeout": -(10**300)}, "timeout"),
    ({"timeout": 1e308}, "timeout"),
], ids=["name-100k", "description-10001", "command-10001", "timezone-50k", "cron-40k", "backoff-20k",
        "timeout-huge", "timeout-huge-negative", "timeout-float-huge"])
def test_huge_fields_are_refused_naming_the_field(app_500s, client, task, changes, field):
    before = listing(client)
    assert_client_error(client.post("/api/tasks", json={**VALID, "name": "huge", **changes}), field)
    assert_client_error(client.patch(f"/api/tasks/{task['id']}", json=changes), field)
    assert listing(client) == before


@pytest.mark.parametrize("changes", [
    {"description": "d" * 10_000},
    {"config": {"command": "c" * 10_000}},
    {"kind": "python", "config": {"callable": "worker.examples:count_primes",
                                  "kwargs": {f"k{i}": i for i in range(5000)}}},
    {"kind": "python", "config": {"callable": "worker.examples:count_primes", "kwargs": _deep(100)}},
], ids=["description-10000", "command-10000", "kwargs-5000-keys", "kwargs-100-deep"])
def test_large_but_allowed_fields_round_trip(client, changes):
    response = client.post("/api/tasks", json=dict(VALID, name="large", **changes))
    assert response.status_code == 201, response.get_data(as_text=True)[:300]
    stored = client.get(f"/api/tasks/{response.get_json()['id']}").get_json()
    for key, value in changes.items():
        assert stored[key] == value


@pytest.mark.parametrize("raw,content_type", [
    (b'{"name": "a", "kind": "shell", "config": {"command": "true"}} trailing', "application/json"),
    (b'{"name": "\xff\xfe", "kind": "shell", "config": {"command": "true"}}', "application/json"),
    (b"\xef\xbb\xbf" + json.dumps(VALID).encode(), "application/json"),
    (json.dumps(VALID).encode("utf-16"), "application/json"),
    (json.dumps(VALID).encode(), "application/json; charset=latin-1"),
    (b'{"name": "a", "name": "b", "kind": "shell", "config": {"command": "true"}}', "application/json"),
    (b'{"name": 1e99999, "kind": "shell", "config": {"command": "true"}}', "application/json"),
    (b'{"name": "a", "kind": "shell", "config": {"command": "true"}, "timeout": ' + b"9" * 5000 + b"}",
     "application/json"),
    (b"{" * 20 + b"}" * 20, "application/json"),
    (b"\x00\x00\x00", "application/json"),
    (json.dumps(VALID).encode(), "application/vnd.api+json"),
    (json.dumps(VALID).encode(), "multipart/form-data; boundary=x"),
], ids=["trailing-garbage", "invalid-utf8", "utf8-bom", "utf16", "latin1-charset", "duplicate-keys",
        "float-overflow", "5000-digit-int", "unbalanced", "nul-bytes", "vendor-json", "multipart"])
def test_malformed_bodies_get_a_4xx_or_a_clean_create(app_500s, client, raw, content_type):
    before = listing(client)
    response = client.post("/api/tasks", data=raw, content_type=content_type)
    assert response.status_code in (201, 400), (response.status_code, response.get_data(as_text=True)[:300])
    assert response.is_json
    if response.status_code == 400:
        assert_client_error(response)
        assert listing(client) == before
    else:
        assert len(listing(client)) == len(before) + 1


DEEP_JSON = b"[" * 5000 + b"]" * 5000


def test_deeply_nested_json_is_a_400_not_a_500(app_500s, client):
    before = listing(client)
    response = client.post("/api/tasks", data=DEEP_JSON, content_type="application/json")
    assert_client_error(response)
    assert listing(client) == before


def test_a_viewers_deeply_nested_patch_is_refused_not_a_500(app_500s, viewer, task):
    response = viewer.patch(f"/api/tasks/{task['id']}", data=DEEP_JSON, content_type="application/json")
    assert response.status_code in (400, 403)


def test_nan_and_infinity_in_kwargs_are_refused(app_500s, client):
    before = listing(client)
    raw = ('{"name": "nan", "kind": "python", "config": {"callable": "worker.examples:count_primes", '
           '"kwargs": {"limit": NaN, "other": -Infinity}}}')
    response = client.post("/api/tasks", data=raw, content_type="application/json")
    strict_json(client.get("/api/tasks").get_data(as_text=True))  # the listing is still JSON
    assert_client_error(response, "config.kwargs")
    assert listing(client) == before


# --- hostile query strings and ids ---------------------------------------------------

QUERY_PARAMS = [
    ("/api/events", "since"), ("/api/events", "limit"), ("/api/audit", "before"), ("/api/audit", "limit"),
    ("/api/tasks/{t}/runs", "limit"), ("/api/tasks/{t}/runs", "before"),
    ("/api/schedule/preview?interval=60", "count"), ("/api/schedule/preview", "interval"),
]


@pytest.mark.parametrize("value", ["-1", "1.5", "1e3", "0x10", " 7", "", "abc", "9" * 30, "%00", "1;DROP"])
@pytest.mark.parametrize("path,param", QUERY_PARAMS, ids=[f"{p}?{q}" for p, q in QUERY_PARAMS])
def test_bad_numeric_query_parameters_are_400_naming_the_parameter(app_500s, client, task, path, param, value):
    url = path.format(t=task["id"])
    url += ("&" if "?" in url else "?") + f"{param}={quote(value)}"
    response = client.get(url)
    if value == "" and response.status_code == 200:
        return  # an empty parameter may be read as absent
    assert_client_error(response, param)


@pytest.mark.parametrize("value", ["²", "0" * 5000], ids=["superscript-two", "5000-digits"])
@pytest.mark.parametrize("path,param", QUERY_PARAMS, ids=[f"{p}?{q}" for p, q in QUERY_PARAMS])
def test_unicode_and_overlong_digits_in_query_parameters_are_400(app_500s, client, task, path, param, value):
    url = path.format(t=task["id"])
    url += ("&" if "?" in url else "?") + f"{param}={quote(value)}"
    assert_client_error(client.get(url), param)


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/tasks/{huge}"), ("GET", "/api/tasks/{huge}/runs"), ("GET", "/api/runs/{huge}"),
    ("PATCH", "/api/tasks/{huge}"), ("DELETE", "/api/tasks/{huge}"), ("POST", "/api/tasks/{huge}/run"),
])
def test_ids_beyond_64_bits_are_404(app_500s, client, method, path):
    response = client.open(path.format(huge=2**64 + 1), method=method,
                           json={"enabled": True} if method != "GET" else None)
    assert_client_error(response)
    assert response.status_code == 404


def test_ids_that_are_not_numbers_are_404_json(app_500s, client):
    for path in ["/api/tasks/-1", "/api/tasks/1.0", "/api/tasks/0x1", "/api/tasks/%31%00", "/api/runs/abc"]:
        response = client.get(path)
        assert response.status_code == 404 and response.is_json, path


# --- users API: hostile names -----------------------------------------------------

@pytest.mark.parametrize("username", ["new\u200buser", "nеw", "new user", "new:user", "new/../user", "<b>x</b>",
                                      "new\x00", "ａｄｍｉｎ"],
                         ids=["zero-width", "cyrillic-e", "space", "colon", "path", "html", "nul", "fullwidth"])
def test_usernames_outside_the_allowed_characters_are_refused(app, client, username):
    before = client.get("/api/users").get_json()
    response = client.post("/api/users", json={"username": username, "role": "admin"})
    assert_client_error(response, "username")
    assert client.get("/api/users").get_json() == before


def test_a_username_with_a_trailing_newline_is_refused(client):
    response = client.post("/api/users", json={"username": "admin\n", "role": "admin"})
    assert_client_error(response, "username")


# --- script in names, descriptions and output, rendered by the server ---------------------

HOSTILE = f'{SCRIPT}{IMG}"\' autofocus onfocus="alert(1)'


def _signed_in_admin(app):
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"csrf_token": token, "username": ADMIN[0], "password": ADMIN[1]})
    assert response.status_code == 302
    return client


class _Elements(HTMLParser):
    """Every start tag with its attributes, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _assert_inert(html: str) -> None:
    parser = _Elements()
    parser.feed(html)
    tags = parser.tags
    assert not [t for t, a in tags if t == "img"], "an <img> element was injected"
    assert all("src" in a for t, a in tags if t == "script"), "an inline <script> element was injected"
    handlers = [(t, k) for t, a in tags for k in a if k.startswith("on") or k == "autofocus"]
    assert not handlers, f"attributes injected: {handlers}"
    assert SCRIPT not in html


def test_script_in_task_fields_and_run_error_renders_as_text_on_the_page(app, client, clean_redis):
    from webapp.runs.state import update_task_status

    response = client.post("/api/tasks", json={
        "name": f"{SCRIPT}{IMG}", "description": HOSTILE, "kind": "shell", "config": {"command": "true"},
    })
    assert response.status_code == 201
    task_id = response.get_json()["id"]
    run = client.post(f"/api/tasks/{task_id}/run", json={})
    assert run.status_code == 202
    with app.app_context():
        update_task_status(run.get_json()["run_id"], "running")
        update_task_status(run.get_json()["run_id"], "failed", error=f"exit code 1: {HOSTILE}")
    html = _signed_in_admin(app).get("/scheduler").get_data(as_text=True)
    _assert_inert(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count("onfocus=&#34;alert(1)") >= 2  # description and run error, as attribute text


def test_script_in_task_fields_renders_as_text_in_the_audit_page(app, client):
    response = client.post("/api/tasks", json={
        "name": f"{SCRIPT}{IMG}", "description": HOSTILE, "kind": "shell", "config": {"command": HOSTILE},
    })
    assert response.status_code == 201
    html = _signed_in_admin(app).get("/audit").get_data(as_text=True)
    _assert_inert(html)
    assert "\\u003cscript\\u003e" in html or "&lt;script&gt;" in html


def test_script_in_a_refused_room_is_not_echoed_raw(socket_client):
    ack = socket_client.emit("subscribe", {"room": SCRIPT * 1000, "since": None}, callback=True)
    assert ack["ok"] is False and len(ack["error"]) < 300


# --- Socket.IO garbage ------------------------------------------------------------

def _received(client, name="task_update"):
    return [m for m in client.get_received() if m["name"] == name]


GARBAGE = [
    0, -1, 2**64, 1.5, "", "x" * 1_000_000, None, True, False, [], [[[[[]]]]], _deep(200),
    {"room": ["tasks"]}, {"room": {"$ne": None}}, {"room": None}, {"room": 1}, {"room": True},
    {"room": "x" * 1_000_000}, {"room": "tasks\x00"}, {"room": "task:" + "1" * 13}, {"room": "task:0x1"},
    {"room": "task:1 "}, {"room": "task: 1"}, {"room": "task:+1"}, {"room": "task:1/../tasks"},
    {"room": "tasks", "since": True}, {"room": "tasks", "since": False}, {"room": "tasks", "since": -1},
    {"room": "tasks", "since": -(2**70)}, {"room": "tasks", "since": "0"}, {"room": "tasks", "since": 1e308},
    {"room": "tasks", "since": [0]}, {"room": "tasks", "since": {"gt": 0}}, {"room": "tasks", "since": 0.0},
    {"room": "audit", "since": None},
]
GARBAGE_IDS = [
    "zero", "minus-one", "2**64", "float", "empty-string", "1MB-string", "null", "true", "false", "empty-list",
    "nested-lists", "200-deep-object", "room-list", "room-operator", "room-null", "room-number", "room-bool",
    "room-1MB", "room-nul", "room-13-digits", "room-hex", "room-trailing-space", "room-inner-space",
    "room-plus", "room-path", "since-true", "since-false", "since-negative", "since-huge-negative",
    "since-string", "since-1e308", "since-list", "since-object", "since-float-zero", "audit-as-viewer",
]


@pytest.fixture
def viewer_socket(app, socket_client, make_task):
    """A viewer's connection (the admin's ``socket_client`` stays connected too)."""
    from webapp.access import users
    from webapp.core.extensions import socketio

    make_task()
    with app.app_context():
        users.create_user(*VIEWER[:1], "viewer", VIEWER[1])
    client = socketio.test_client(app, headers={"Authorization": basic_auth(*VIEWER)})
    assert client.is_connected()
    yield client
    if client.is_connected():
        client.disconnect()


@pytest.mark.parametrize("payload", GARBAGE, ids=GARBAGE_IDS)
def test_garbage_subscribe_payloads_are_refused_with_a_reason(viewer_socket, payload):
    from webapp.core.extensions import socketio

    ack = viewer_socket.emit("subscribe", payload, callback=True)
    assert isinstance(ack, dict) and ack["ok"] is False, ack if not isinstance(ack, dict) else ack.get("error")
    assert isinstance(ack["error"], str) and 0 < len(ack["error"]) < 300
    assert set(ack) == {"ok", "error"}
    assert viewer_socket.is_connected()
    for room in ("tasks", "task:1", "audit"):
        socketio.emit("task_update", {"seq": 99}, to=room)
    assert _received(viewer_socket) == []


@pytest.mark.parametrize("room", ["task:²", "task:١", "task:01"], ids=["superscript-two", "arabic-indic-one",
                                                                    "leading-zero"])
def test_room_ids_in_non_ascii_digits_are_refused(viewer_socket, room):
    ack = viewer_socket.emit("subscribe", {"room": room, "since": None}, callback=True)
    assert isinstance(ack, dict) and ack["ok"] is False


@pytest.mark.parametrize("args", [(), ({"room": "tasks"}, {"room": "tasks"}), ("tasks", None, 1)],
                         ids=["nothing", "two-objects", "three-values"])
def test_subscribe_with_the_wrong_number_of_arguments_is_refused(viewer_socket, args):
    ack = viewer_socket.emit("subscribe", *args, callback=True)
    assert ack["ok"] is False and ack["error"]


@pytest.mark.parametrize("event", ["task_update", "audit_entry", "join", "run", "admin", "x" * 10_000])
def test_events_the_server_does_not_handle_are_ignored_and_not_relayed(viewer_socket, socket_client, event):
    socket_client.emit("subscribe", {"room": "tasks", "since": None}, callback=True)
    socket_client.get_received()
    ack = viewer_socket.emit(event, {"seq": 1, "task_id": 1, "status": "success", "room": "tasks"}, callback=True)
    assert ack is None
    assert viewer_socket.is_connected() and socket_client.is_connected()
    assert socket_client.get_received() == []
    assert viewer_socket.emit("subscribe", {"room": "tasks", "since": None}, callback=True)["ok"] is True


SINCE = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=5) | JSON_VALUES
ROOMS = (st.sampled_from(["tasks", "audit", "task:1", "task:2", "task:01", "Tasks", "task:"])
         | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=10).map(lambda s: "task:" + s)
         | JSON_VALUES)


@FUZZ
@given(payload=st.fixed_dictionaries({}, optional={"room": ROOMS, "since": SINCE, "snapshot": JSON_VALUES})
       | JSON_VALUES)
def test_random_subscribe_payloads_are_acked_ok_only_for_allowed_rooms(viewer_socket, payload):
    ack = viewer_socket.emit("subscribe", payload, callback=True)
    assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool)
    if ack["ok"]:
        assert payload["room"] in ("tasks", "task:1", "task:01")
        since = payload.get("since")
        assert since is None or (type(since) is int and since >= 0)
        assert isinstance(ack["head"], int) and isinstance(ack["events"], list)
    else:
        assert isinstance(ack["error"], str) and 0 < len(ack["error"]) < 300
    assert viewer_socket.is_connected()


def test_unauthenticated_socket_cannot_subscribe(app, socket_client):
    from webapp.core.extensions import socketio

    stranger = socketio.test_client(app)
    assert not stranger.is_connected()
    with pytest.raises(RuntimeError):
        stranger.emit("subscribe", {"room": "tasks", "since": 0}, callback=True)
    socketio.emit("task_update", {"seq": 1}, to="tasks")
    assert stranger.queue == []  # nothing was delivered to it


def test_the_socket_test_server_is_in_process(socket_client):
    """Guard: these tests talk to an in-process manager, not a Redis message queue."""
    from webapp.core.extensions import socketio

    assert isinstance(socketio.server.manager, python_socketio.Manager)
    assert not isinstance(socketio.server.manager, python_socketio.PubSubManager)
