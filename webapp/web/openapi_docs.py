"""The API's docs page (``/docs/api``, any signed-in user): the OpenAPI document of
``webapp.web.openapi`` rendered on the server into plain HTML (operations by tag, their
parameters, bodies and answers, then every schema), so it needs no script, no
third-party renderer and nothing outside the page CSP."""
from __future__ import annotations

import json
from typing import Any

from flask import render_template, url_for

from webapp.web.openapi import api_base, document
from webapp.web.pages import bp, page_login_required

METHODS = ("get", "post", "put", "patch", "delete")
Segments = list[tuple[str, str | None]]  # (text, schema name to link to, or None)


def _join(parts: list[Segments], glue: str) -> Segments:
    out: Segments = []
    for i, part in enumerate(parts):
        if i:
            out.append((glue, None))
        out.extend(part)
    return out


def type_segments(schema: dict[str, Any] | None) -> Segments:
    """A schema as short text (``[Task]``, ``string | null``), schema names linked."""
    if not schema:
        return [("any", None)]
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return [(name, name)]
    for key, glue in (("oneOf", " | "), ("anyOf", " | "), ("allOf", " & ")):
        if key in schema:
            return _join([type_segments(s) for s in schema[key]], glue)
    if "const" in schema:
        return [(json.dumps(schema["const"]), None)]
    if "enum" in schema:
        return [(" | ".join(json.dumps(v) for v in schema["enum"]), None)]
    kinds = schema.get("type", "object")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    parts: list[Segments] = []
    for kind in kinds:
        if kind == "array":
            parts.append([("[", None), *type_segments(schema.get("items")), ("]", None)])
        elif kind == "object" and isinstance(schema.get("additionalProperties"), dict):
            parts.append([("{string: ", None), *type_segments(schema["additionalProperties"]), ("}", None)])
        else:
            parts.append([(kind + (f" ({schema['format']})" if kind == "string" and "format" in schema else ""),
                           None)])
    return _join(parts, " | ")


def property_rows(schema: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """One row per property (inline objects' properties follow as ``outer.inner``)."""
    rows = []
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        rows.append({"name": prefix + name, "type": type_segments(prop), "required": name in required,
                     "description": prop.get("description", "")})
        if prop.get("properties"):
            rows.extend(property_rows(prop, f"{prefix}{name}."))
    return rows


def _response_schema(answer: dict[str, Any], responses: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in answer:
        answer = responses[answer["$ref"].rsplit("/", 1)[1]]
    schema = answer.get("content", {}).get("application/json", {}).get("schema")
    return {"description": answer.get("description", ""), "type": type_segments(schema) if schema else None}


def page_model(doc: dict[str, Any]) -> dict[str, Any]:
    """What the template shows: operations grouped by tag, then the schemas."""
    responses = doc["components"]["responses"]
    groups: dict[str, list[dict[str, Any]]] = {tag["name"]: [] for tag in doc.get("tags", [])}
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            groups.setdefault(operation["tags"][0], []).append({
                "anchor": f"{method}-{path.strip('/').replace('/', '-').replace('{', '').replace('}', '')}",
                "method": method.upper(), "path": path, "summary": operation.get("summary", ""),
                "description": operation.get("description", ""), "role": operation.get("x-taskpulse-role"),
                "parameters": [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                                "type": type_segments(p.get("schema")), "description": p.get("description", "")}
                               for p in operation.get("parameters", [])],
                "body": type_segments(body) if body else None,
                "responses": [{"status": status, **_response_schema(answer, responses)}
                              for status, answer in operation["responses"].items()],
            })
    tags = {tag["name"]: tag.get("description", "") for tag in doc.get("tags", [])}
    return {
        "info": doc["info"], "server": doc["servers"][0]["url"],
        "groups": [{"name": name, "description": tags.get(name, ""), "operations": ops}
                   for name, ops in groups.items() if ops],
        "schemas": [{"name": name, "description": schema.get("description", ""),
                     "type": type_segments(schema) if "properties" not in schema else None,
                     "properties": property_rows(schema)}
                    for name, schema in doc["components"]["schemas"].items()],
    }


@bp.get("/docs/api")
@page_login_required()
def api_docs():
    """The API reference, rendered from ``GET /api/openapi.json``."""
    base = api_base()
    return render_template("taskpulse/api_docs.html", doc=page_model(document(base)),
                           openapi_url=url_for("taskpulse.api.openapi_json"))
