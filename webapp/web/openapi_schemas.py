"""The OpenAPI document's components: the JSON shapes the API reads and answers (from
the models' ``to_dict`` and the validators), the error shape, the shared error
responses and the three ways to sign in. Kept by hand beside the code it describes;
``webapp.web.openapi_paths`` names them, ``webapp.web.openapi`` assembles the document."""
from __future__ import annotations

from typing import Any

from webapp.core.models import (
    CHAIN_WHEN,
    NOTIFICATION_STATUSES,
    ROLES,
    SLUG_PATTERN,
    STATUSES,
    TRIGGERS,
)

ALERT_KINDS = ["failure", "recovery", "late", "overrun", "success"]


def ref(name: str) -> dict[str, str]:
    """A reference to the schema ``name`` of the components."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null (OpenAPI 3.1: JSON Schema's type lists and oneOf)."""
    if "type" in schema and isinstance(schema["type"], str) and len(schema) <= 3:
        return {**schema, "type": [schema["type"], "null"]}
    return {"oneOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Any], required: list[str] | None = None, description: str | None = None,
        extra: bool = False) -> dict[str, Any]:
    """An object schema; every property is required unless ``required`` lists fewer."""
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "required": list(properties) if required is None else required}
    if description:
        schema["description"] = description
    if not extra:
        schema["additionalProperties"] = False
    return schema


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
INSTANT = {"type": "string", "format": "date-time", "description": "ISO-8601 UTC"}
MAYBE_INSTANT = {"type": ["string", "null"], "format": "date-time", "description": "ISO-8601 UTC or null"}
MAYBE_STRING = {"type": ["string", "null"]}
MAYBE_INTEGER = {"type": ["integer", "null"]}
STATUS = {"type": "string", "enum": list(STATUSES)}

SCHEDULE = {"oneOf": [
    {"type": "null", "description": "manual only"},
    obj({"type": {"const": "cron"}, "expr": {"type": "string", "maxLength": 200, "examples": ["0 2 * * *"]}}),
    obj({"type": {"const": "interval"}, "seconds": {"type": "integer", "minimum": 1}}),
    obj({"type": {"const": "once"}, "at": INSTANT}),
]}
RETRIES = nullable(obj({"max": {"type": "integer", "minimum": 0},
                        "backoff": {"type": "array", "items": {"type": "integer", "minimum": 0}}},
                       required=["max"]))
NOTIFY = nullable(obj({
    "channels": {"type": "array", "items": STRING, "description": "channel names"},
    "on": {"type": "array", "items": {"type": "string", "enum": ALERT_KINDS}},
    "after_failures": {"type": "integer", "minimum": 1},
    "late_after": {"type": "integer", "minimum": 0, "description": "seconds"},
    "max_runtime": {"type": ["integer", "null"], "minimum": 1, "description": "seconds"},
}, required=["channels", "on"]))

# The writable fields of a task, as POST /api/tasks and PATCH /api/tasks/{id} take them.
TASK_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200, "description": "unique"},
    "kind": {"type": "string", "examples": ["shell", "python"]},
    "config": {"type": "object", "description": 'shell: {"command"}; python: {"callable": "module:function", '
                                                '"kwargs"}'},
    "description": {"type": ["string", "null"], "maxLength": 10000},
    "schedule": SCHEDULE,
    "timezone": {"type": "string", "description": "IANA zone for cron schedules", "default": "UTC"},
    "enabled": BOOLEAN,
    "timeout": {"type": "integer", "minimum": 1, "description": "seconds a run may take"},
    "retries": RETRIES,
    "overlap": {"type": "string", "enum": ["skip", "allow", "queue"]},
    "misfire": {"type": "string", "enum": ["run_once", "skip"]},
    "notify": NOTIFY,
    "params": {"type": ["array", "null"], "maxItems": 20, "items": obj({
        "name": STRING, "type": {"type": "string", "enum": ["string", "integer", "number", "boolean", "choice"]},
        "default": {}, "choices": {"type": "array"}, "required": BOOLEAN, "secret": BOOLEAN,
    }, required=["name", "type"]), "description": "typed parameters of Run Now (design.md)"},
    "env": {"type": ["object", "null"], "description": 'variables for the job: strings or {"secret": "<name>"}',
            "additionalProperties": {"oneOf": [STRING, obj({"secret": STRING}, required=["secret"])]}},
    "queue": {"type": "string", "pattern": f"^{SLUG_PATTERN}$", "default": "taskpulse",
              "description": "the RQ queue its runs go to (workers name the queues they serve)"},
    "tags": {"type": ["array", "null"], "maxItems": 20, "items": {"type": "string", "pattern": f"^{SLUG_PATTERN}$"},
             "description": "concurrency groups (limits: PUT /api/settings/concurrency)"},
    "then": {"type": ["array", "null"], "maxItems": 20, "items": obj({
        "task": {"type": "string", "description": "a task's name"},
        "when": {"type": "string", "enum": list(CHAIN_WHEN), "default": "success"},
    }, required=["task"]), "description": "tasks started (trigger chain) when a run ends; no cycles"},
}
READ_ONLY_TASK = {"id": INTEGER, "last_run_at": MAYBE_INSTANT, "last_status": {"type": ["string", "null"]},
                  "last_error": MAYBE_STRING, "next_run_at": MAYBE_INSTANT, "created_at": INSTANT,
                  "updated_at": INSTANT}
RUN_FIELDS: dict[str, Any] = {
    "id": INTEGER, "task_id": INTEGER, "job_id": {"type": ["string", "null"], "examples": ["run-42"]},
    "trigger": {"type": "string", "enum": list(TRIGGERS)}, "status": STATUS,
    "progress": {"type": ["integer", "null"], "minimum": 0, "maximum": 100},
    "queued_at": MAYBE_INSTANT, "started_at": MAYBE_INSTANT, "finished_at": MAYBE_INSTANT,
    "duration_ms": MAYBE_INTEGER, "error": MAYBE_STRING, "exit_code": MAYBE_INTEGER,
    "scheduled_for": MAYBE_INSTANT, "attempt": INTEGER, "max_attempts": INTEGER,
    "next_attempt_at": MAYBE_INSTANT, "progress_message": MAYBE_STRING, "worker": MAYBE_STRING,
    "params": {"type": ["object", "null"], "description": 'the values it ran with (secret ones as "***")'},
    "parent_run_id": {"type": ["integer", "null"], "description": "the run whose end started it (trigger chain)"},
    "waiting": {"type": ["string", "null"], "description": "why a queued run waits (a full concurrency group)"},
}

SCHEMAS: dict[str, Any] = {
    "Error": obj({"error": obj({
        "code": {"type": "string", "examples": ["invalid", "not_found", "forbidden"]},
        "message": STRING,
        "field": {"type": "string", "description": "the request field at fault, when one is"},
    }, required=["code", "message"])}, description="Every 4xx/5xx answer of the API."),
    "TaskInput": obj(TASK_FIELDS, required=["name", "kind", "config"],
                     description="A new task; fields left out take their defaults."),
    "TaskPatch": obj(TASK_FIELDS, required=[], description="Some fields of a task. Operators may send "
                                                          "only enabled; every other change needs an admin."),
    "Task": obj({**READ_ONLY_TASK, **TASK_FIELDS}),
    "TaskList": obj({"tasks": {"type": "array", "items": ref("Task")}}),
    "Run": obj(RUN_FIELDS, description="One execution of a task."),
    "RunWithOutput": obj({**RUN_FIELDS, "output": MAYBE_STRING, "output_lines": MAYBE_INTEGER},
                         description="A run with its kept output tail and the number of its last line."),
    "ActiveRun": obj({**RUN_FIELDS, "task_name": STRING}, description="A queued, running or retrying run."),
    "RunList": obj({"runs": {"type": "array", "items": ref("Run")}}),
    "RunAccepted": obj({"run_id": INTEGER, "job_id": STRING,
                        "status": {"type": "string", "enum": ["queued", "failed"]},
                        "error": {"type": "string", "description": "why a switch refused the run"},
                        "waiting": {"type": "string", "description": "why it waits off the queue (a full "
                                    "concurrency group); it starts when a slot frees"}},
                       required=["run_id", "job_id", "status"]),
    "StopResult": obj({"run_id": INTEGER, "job_id": MAYBE_STRING,
                       "action": {"type": "string", "enum": ["stop", "cancel"]}, "status": STATUS}),
    "SearchHit": obj({"run_id": INTEGER, "task_id": INTEGER, "task_name": STRING, "status": STATUS,
                      "finished_at": MAYBE_INSTANT,
                      "excerpt": {"type": "string", "description": "the matching line, cut to about 200 "
                                                                   "characters around the match"}}),
    "SearchResult": obj({"runs": {"type": "array", "items": ref("SearchHit")}}),
    "TaskUpdate": obj({
        "seq": INTEGER, "task_id": INTEGER, "task_name": STRING, "run_id": INTEGER, "job_id": MAYBE_STRING,
        "status": STATUS, "trigger": {"type": "string", "enum": list(TRIGGERS)},
        "progress": MAYBE_INTEGER, "queued_at": MAYBE_INSTANT, "started_at": MAYBE_INSTANT,
        "finished_at": MAYBE_INSTANT, "duration_ms": MAYBE_INTEGER, "error": MAYBE_STRING,
        "last_run_at": MAYBE_INSTANT, "next_run_at": MAYBE_INSTANT, "last_status": MAYBE_STRING,
        "emitted_at": INSTANT,
    }, required=["seq", "task_id", "run_id", "status"], extra=True,
        description="The payload of a task_update event (docs/protocol.md)."),
    "EventLog": obj({"head": MAYBE_INTEGER, "events": {"type": "array", "items": ref("TaskUpdate")}}),
    "TaskStats": obj({
        "task_id": INTEGER, "runs": INTEGER,
        "counts": {"type": "object", "additionalProperties": INTEGER, "description": "runs by status"},
        "success_rate": {"type": ["number", "null"]},
        "duration_ms": obj({k: MAYBE_INTEGER for k in ("avg", "p50", "p95", "max")}),
        "series": {"type": "array", "items": obj({
            "run_id": INTEGER, "status": STATUS, "trigger": STRING, "attempt": INTEGER,
            "queued_at": MAYBE_INSTANT, "started_at": MAYBE_INSTANT, "finished_at": MAYBE_INSTANT,
            "duration_ms": MAYBE_INTEGER})},
    }),
    "Panels": obj({
        "running": {"type": "array", "items": ref("ActiveRun")},
        "recent": {"type": "array", "items": ref("TaskUpdate")},
        "stats": {"type": "object", "properties": {k: INTEGER for k in (
            "tasks", "enabled", "queued", "running", "retrying", "failed_24h", "finished_24h")}},
    }, description="The scheduler page's panels: active runs, recent activity, statistics."),
    "PreviewFires": obj({"fires": {"type": "array", "items": INSTANT}}),
    "SchedulerStatus": obj({"paused": BOOLEAN, "since": MAYBE_INSTANT, "by": MAYBE_STRING,
                            "leader": MAYBE_STRING}),
    "UserInput": obj({"username": STRING, "role": {"type": "string", "enum": list(ROLES), "default": "viewer"},
                      "password": {"type": ["string", "null"], "description": "generated when left out"}},
                     required=["username"]),
    "User": obj({"id": INTEGER, "username": STRING, "role": {"type": "string", "enum": list(ROLES)},
                 "active": BOOLEAN, "created_at": INSTANT,
                 "password": {"type": "string", "description": "only in the answer to a create whose "
                                                               "password was generated"}},
                required=["id", "username", "role", "active", "created_at"]),
    "UserList": obj({"users": {"type": "array", "items": ref("User")}}),
    "AuditEntry": obj({"id": INTEGER, "at": INSTANT, "username": STRING, "action": STRING,
                       "target_type": MAYBE_STRING, "target_id": MAYBE_INTEGER, "target_name": MAYBE_STRING,
                       "changes": {"type": ["object", "null"], "description": "field: [before, after]"}}),
    "AuditLog": obj({"entries": {"type": "array", "items": ref("AuditEntry")}}),
    "ChannelInput": obj({"name": STRING, "url": {"type": "string", "description": "an Apprise URL"},
                         "enabled": BOOLEAN}, required=["name", "url"]),
    "ChannelPatch": obj({"name": STRING, "url": STRING, "enabled": BOOLEAN}, required=[]),
    "Channel": obj({"id": INTEGER, "name": STRING,
                    "url": {"type": "string", "description": "masked: scheme and host only",
                            "examples": ["slack://***"]}, "enabled": BOOLEAN}),
    "RunInput": obj({"params": {"type": "object", "description": "values of the task's parameters; "
                                                                   "missing ones take their defaults"}},
                    required=[], description="Run Now's optional body."),
    "Secret": obj({"name": STRING, "created_at": MAYBE_INSTANT, "updated_at": MAYBE_INSTANT,
                   "updated_by": MAYBE_STRING}, description="A secret's name and dates: never its value."),
    "SecretList": obj({"secrets": {"type": "array", "items": ref("Secret")}}),
    "ConcurrencyInput": {"type": "object", "maxProperties": 100, "description": "tag -> at most this many runs at once",
                         "propertyNames": {"pattern": f"^{SLUG_PATTERN}$"},
                         "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 1000}},
    "Concurrency": obj({"concurrency": ref("ConcurrencyInput"),
                        "in_use": {"type": "object", "additionalProperties": INTEGER,
                                   "description": "runs holding a slot now (queued, running or retrying)"}}),
    "SecretInput": obj({"value": {"type": "string", "maxLength": 16384}}, required=["value"]),
    "ChannelList": obj({"channels": {"type": "array", "items": ref("Channel")}}),
    "Notification": obj({
        "id": INTEGER, "task_id": MAYBE_INTEGER, "run_id": MAYBE_INTEGER, "channel": STRING,
        "kind": STRING, "title": STRING, "body": STRING,
        "status": {"type": "string", "enum": list(NOTIFICATION_STATUSES)}, "attempts": INTEGER,
        "error": MAYBE_STRING, "created_at": INSTANT, "sent_at": MAYBE_INSTANT,
        "held": BOOLEAN, "folded_into": MAYBE_INTEGER}, extra=True),
    "NotificationList": obj({"notifications": {"type": "array", "items": ref("Notification")},
                             "head": MAYBE_INTEGER}),
    "OpenApiDocument": {"type": "object", "description": "This document."},
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}


RESPONSES = {
    "Invalid": _error("A field is missing or invalid; error.field names it."),
    "Unauthorized": _error("Not signed in (no or a wrong session, token or password)."),
    "Forbidden": _error("Signed in, but the role is too low."),
    "NotFound": _error("No such object; error.field names the parameter when it is one."),
    "Conflict": _error("The change conflicts with the current state (a duplicate name, a run that ended)."),
    "Unavailable": _error("Something Taskpulse needs is away: Redis could not take the job, the database "
                          "is unavailable (code database_unavailable), or no secrets key is set."),
}
SECURITY_SCHEMES = {
    "session": {"type": "apiKey", "in": "cookie", "name": "session",
                "description": "The pages' sign-in; changes also need the X-CSRFToken header."},
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "A token made with `flask --app wsgi users token NAME`."},
    "basic": {"type": "http", "scheme": "basic", "description": "A user's name and password."},
}

# Tasks as code (GET /api/export, POST /api/import): the diff an import answers, and its
# 400, which carries the diff with every refusal beside the error.
_NAMES = {"type": "array", "items": STRING}
IMPORT_DIFF: dict[str, Any] = {
    "created": _NAMES, "updated": _NAMES, "unchanged": _NAMES, "pruned": _NAMES,
    "refused": {"type": "array", "items": obj({
        "index": {"type": "integer", "description": "the task's position in the file, from 0"},
        "name": MAYBE_STRING, "field": MAYBE_STRING, "message": STRING})},
}
SCHEMAS["ImportResult"] = obj({**IMPORT_DIFF, "dry_run": BOOLEAN},
                              description="What the import changed (or, with dry_run, would change).")
SCHEMAS["ImportRefused"] = obj({"error": SCHEMAS["Error"]["properties"]["error"], **IMPORT_DIFF},
                               required=["error"],
                               description="A refused import: nothing was written. When tasks were refused, "
                                           "the diff with every refusal; a file that is not a list of tasks "
                                           "has the error alone.")
RESPONSES["ImportRefused"] = {"description": "Not a tasks file, or some task refused (nothing written).",
                              "content": {"application/json": {"schema": ref("ImportRefused")}}}
