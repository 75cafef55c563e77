"""The OpenAPI document's operations: every ``/api`` route with its method, parameters,
body, answers and errors, and the least role it needs. Paths are relative to the API
base (``/api`` under the app's prefix). When a route is added, changed or removed, this
module changes with it: tests/unit/test_openapi.py compares it with the app's URL map."""
from __future__ import annotations

from typing import Any

from webapp.web.openapi_schemas import ref

ERRORS_OF_ROLE = {"viewer": ["401"], "operator": ["401", "403"], "admin": ["401", "403"]}
ERROR_NAMES = {"400": "Invalid", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound",
               "409": "Conflict", "503": "Unavailable"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def path_id(name: str, what: str) -> dict[str, Any]:
    """An id in the path (at most 18 digits: a longer one is a 404)."""
    return {"name": name, "in": "path", "required": True, "description": f"the {what}'s id",
            "schema": {"type": "integer", "minimum": 0, "maximum": 999999999999999999}}


def query(name: str, description: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    """A query-string parameter."""
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


def count(name: str, default: int, high: int, description: str) -> dict[str, Any]:
    """A whole-number query parameter from 1 (400 naming it outside its range)."""
    return query(name, description, {"type": "integer", "minimum": 1, "maximum": high, "default": default})


def op(tag: str, summary: str, role: str, ok: tuple[str, dict[str, Any] | None, str],
       errors: tuple[str, ...] = (), params: tuple[dict[str, Any], ...] = (),
       body: str | None = None, description: str | None = None) -> dict[str, Any]:
    """One operation: ``ok`` is (status, schema or None for no body, description)."""
    status, schema, said = ok
    responses: dict[str, Any] = {status: _json(schema, said) if schema else {"description": said}}
    for code in sorted({*errors, *ERRORS_OF_ROLE[role]}):
        responses[code] = {"$ref": f"#/components/responses/{ERROR_NAMES[code]}"}
    operation: dict[str, Any] = {"tags": [tag], "summary": summary, "x-taskpulse-role": role,
                                 "responses": responses}
    operation["description"] = (description + " " if description else "") + f"Needs the {role} role or higher."
    if params:
        operation["parameters"] = list(params)
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(body)}}}
    return operation


TASK = path_id("task_id", "task")
RUN = path_id("run_id", "run")
CHANNEL = path_id("channel_id", "channel")
SECRET = {"name": "name", "in": "path", "required": True, "description": "the secret's name",
          "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"}}
SINCE = query("since", "only rows after this id or seq", {"type": "integer", "minimum": 0})
BEFORE = query("before", "only rows whose id is lower (the next page)", {"type": "integer", "minimum": 0})

PATHS: dict[str, dict[str, Any]] = {
    "/tasks": {
        "get": op("tasks", "List every task", "viewer", ("200", ref("TaskList"), "The tasks.")),
        "post": op("tasks", "Create a task", "admin", ("201", ref("Task"), "The task as stored."),
                   ("400", "409"), body="TaskInput"),
    },
    "/tasks/{task_id}": {
        "get": op("tasks", "One task", "viewer", ("200", ref("Task"), "The task."), ("404",), (TASK,)),
        "patch": op("tasks", "Change some fields of a task", "operator", ("200", ref("Task"), "The task."),
                    ("400", "404", "409"), (TASK,), body="TaskPatch",
                    description="Operators may only enable or disable a task; other fields need an admin."),
        "delete": op("tasks", "Delete a task and its runs", "admin", ("204", None, "Deleted."),
                     ("404",), (TASK,)),
    },
    "/tasks/{task_id}/run": {
        "post": op("runs", "Run Now", "operator", ("202", ref("RunAccepted"), "Queued; its states follow "
                   "as task_update events (status failed with error when a switch refused the kind)."),
                   ("400", "404", "409", "503"), (TASK,)),
    },
    "/tasks/{task_id}/runs": {
        "get": op("runs", "A task's runs, newest first", "viewer", ("200", ref("RunList"), "The runs."),
                  ("400", "404"), (TASK, count("limit", 50, 500, "at most this many"), BEFORE)),
    },
    "/tasks/{task_id}/stats": {
        "get": op("runs", "Statistics of a task's last runs", "viewer", ("200", ref("TaskStats"),
                  "Counts by status, success rate, durations and the chart's points."),
                  ("400", "404"), (TASK, count("limit", 100, 1000, "over the last this many runs"))),
    },
    "/runs/search": {
        "get": op("runs", "Search through stored output and errors", "viewer",
                  ("200", ref("SearchResult"), "Matching runs, newest first."), ("400", "404"), (
                      query("q", "the text, 1 to 200 characters; case-insensitive, % and _ are literal",
                            {"type": "string", "minLength": 1, "maxLength": 200}, required=True),
                      query("task", "only this task's runs (404 naming task when there is none)",
                            {"type": "integer", "minimum": 0}),
                      count("limit", 50, 200, "at most this many runs")),
                  description="Runs whose stored output (the kept tail) or error contains q; each hit's "
                              "excerpt is the matching line."),
    },
    "/runs/{run_id}": {
        "get": op("runs", "One run with its kept output", "viewer", ("200", ref("RunWithOutput"), "The run."),
                  ("404",), (RUN,)),
    },
    "/runs/{run_id}/stop": {
        "post": op("runs", "Stop or cancel a run", "operator", ("200", ref("StopResult"),
                   "A queued or retrying run was canceled."), ("404", "409"), (RUN,),
                   description="202 with the same body when a running run is being stopped (stopped follows "
                               "as a task_update); 409 when it has ended."),
    },
    "/events": {
        "get": op("live", "The event log after a seq", "viewer", ("200", ref("EventLog"),
                  "Events oldest first and the latest seq."), ("400",),
                  (SINCE, count("limit", 500, 5000, "at most this many events"))),
    },
    "/panels": {
        "get": op("live", "The scheduler page's panels", "viewer", ("200", ref("Panels"), "The panels.")),
    },
    "/schedule/preview": {
        "get": op("scheduling", "Next fire times of a schedule", "viewer", ("200", ref("PreviewFires"),
                  "The fires, ISO-8601 UTC."), ("400",), (
                      query("cron", "a cron expression (or give interval)", {"type": "string", "maxLength": 200}),
                      query("interval", "seconds between fires (instead of cron)", {"type": "integer", "minimum": 1}),
                      query("timezone", "IANA zone of the cron expression", {"type": "string", "default": "UTC"}),
                      query("after", "fires after this instant (default now)", {"type": "string",
                                                                                "format": "date-time"}),
                      count("count", 5, 50, "how many fires"))),
    },
    "/scheduler": {
        "get": op("scheduling", "The global pause and the leading scheduler", "viewer",
                  ("200", ref("SchedulerStatus"), "The scheduler's state.")),
    },
    "/scheduler/pause": {
        "post": op("scheduling", "Pause scheduled fires everywhere", "operator",
                   ("200", ref("SchedulerStatus"), "Paused (Run Now still works).")),
    },
    "/scheduler/resume": {
        "post": op("scheduling", "Resume scheduled fires", "operator", ("200", ref("SchedulerStatus"),
                   "Resumed; fires passed while paused are not caught up.")),
    },
    "/users": {
        "get": op("users", "List users", "admin", ("200", ref("UserList"), "The users.")),
        "post": op("users", "Create a user", "admin", ("201", ref("User"), "The user; with password when "
                   "one was generated."), ("400", "409"), body="UserInput"),
    },
    "/audit": {
        "get": op("users", "The audit log, newest first", "admin", ("200", ref("AuditLog"), "The entries."),
                  ("400",), (count("limit", 100, 1000, "at most this many entries"), BEFORE)),
    },
    "/channels": {
        "get": op("alerts", "List alert channels (URLs masked)", "viewer", ("200", ref("ChannelList"),
                  "The channels.")),
        "post": op("alerts", "Add an alert channel", "admin", ("201", ref("Channel"), "The channel, masked."),
                   ("400", "409"), body="ChannelInput"),
    },
    "/channels/{channel_id}": {
        "get": op("alerts", "One alert channel", "viewer", ("200", ref("Channel"), "The channel, masked."),
                  ("404",), (CHANNEL,)),
        "patch": op("alerts", "Change an alert channel", "admin", ("200", ref("Channel"), "The channel, masked."),
                    ("400", "404", "409"), (CHANNEL,), body="ChannelPatch"),
        "delete": op("alerts", "Delete an alert channel", "admin", ("204", None, "Deleted (its past deliveries "
                     "stay in the outbox)."), ("404",), (CHANNEL,)),
    },
    "/channels/{channel_id}/test": {
        "post": op("alerts", "Send a test message", "admin", ("202", ref("Notification"), "Queued; the delivery "
                   "follows live."), ("404", "409"), (CHANNEL,)),
    },
    "/notifications": {
        "get": op("alerts", "The alert outbox", "operator", ("200", ref("NotificationList"),
                  "Rows after since (oldest first), or the newest limit."), ("400",),
                  (SINCE, count("limit", 200, 1000, "at most this many rows"))),
    },
    "/secrets": {
        "get": op("secrets", "List secrets (names and dates, never values)", "admin",
                  ("200", ref("SecretList"), "The secrets.")),
    },
    "/secrets/{name}": {
        "put": op("secrets", "Set a secret", "admin", ("200", ref("Secret"), "Replaced (201 when new); no value "
                  "in the answer."), ("400", "503"), (SECRET,), body="SecretInput"),
        "delete": op("secrets", "Delete a secret", "admin", ("204", None, "Deleted."), ("400", "404"), (SECRET,)),
    },
    "/settings/concurrency": {
        "get": op("tasks", "Concurrency limits per tag, and the slots in use", "viewer",
                  ("200", ref("Concurrency"), "The limits.")),
        "put": op("tasks", "Replace the concurrency limits", "admin", ("200", ref("Concurrency"), "The limits now; "
                  "runs a raised limit lets go start at once."), ("400",), body="ConcurrencyInput"),
    },
    "/openapi.json": {
        "get": op("meta", "This document", "viewer", ("200", ref("OpenApiDocument"), "OpenAPI 3.1.")),
    },
}

# Run Now's body is optional (no body: the parameters' defaults); a secret set for the
# first time answers 201.
PATHS["/tasks/{task_id}/run"]["post"]["requestBody"] = {
    "required": False, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunInput"}}}}
PATHS["/secrets/{name}"]["put"]["responses"]["201"] = {
    "description": "Created; no value in the answer.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Secret"}}}}

# Tasks as code: YAML both ways, so the bodies are not application/json.
_YAML = {"application/yaml": {"schema": {"type": "string", "description": "a YAML list of tasks "
                                         "(README, \"Tasks as code\")"}}}
PATHS["/export"] = {
    "get": op("tasks", "Every task as YAML", "viewer", ("200", None, "The tasks file, sorted by name: every "
              "writable field but secret values, fields equal to their default left out."))}
PATHS["/export"]["get"]["responses"]["200"]["content"] = _YAML
PATHS["/import"] = {
    "post": op("tasks", "Import a tasks file", "admin", ("200", ref("ImportResult"), "Applied in one "
               "transaction (or, with dry_run, what would change)."), ("400",),
               (query("dry_run", "1: answer the diff and change nothing", {"type": "string", "enum": ["0", "1"]}),
                query("prune", "1: also delete the tasks the file does not name",
                      {"type": "string", "enum": ["0", "1"]})),
               description="The body is the YAML (Content-Type: application/yaml), at most the server's "
                           "body limit. Any refused task: 400 with every refusal, nothing written.")}
PATHS["/import"]["post"]["requestBody"] = {"required": True, "content": _YAML}
PATHS["/import"]["post"]["responses"]["400"] = {"$ref": "#/components/responses/ImportRefused"}
