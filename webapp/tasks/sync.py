"""Importing a whole set of tasks (a YAML file, a crontab): what would change, and the
change itself in one transaction.

A task in the set is described completely: a field it leaves out takes its default
(as on a create), so importing a file makes each named task what the file says. Names
are the identity: a name in the set and in the database is an update (or unchanged),
a new name a create; with ``prune``, a stored task whose name is not in the set is
deleted. Chains (``then``) are checked over the resulting set of tasks, so a file may
define both ends of a chain in any order, and a cycle across the file is refused.
Nothing is written while any task is refused.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError

from webapp.access import audit
from webapp.core.errors import Conflict, ValidationError
from webapp.core.extensions import db
from webapp.core.models import AuditEntry, Task
from webapp.tasks import links, store, yaml_io
from webapp.tasks.validation import clean_task

RESULT_KEYS = ("created", "updated", "unchanged", "refused", "pruned")
MAX_MESSAGE = 500  # a cycle through a thousand tasks is named, not spelled out a thousand times


@dataclass
class Plan:
    """What importing a set would do. ``changes`` says, per updated task, which fields."""

    creates: list[dict[str, Any]] = field(default_factory=list)
    updates: list[tuple[Task, dict[str, Any]]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    prunes: list[Task] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    changes: dict[str, list[str]] = field(default_factory=dict)

    def answer(self) -> dict[str, Any]:
        """``{"created", "updated", "unchanged", "refused", "pruned"}``: names (sorted),
        and ``{"index", "name", "field", "message"}`` per refusal (in file order)."""
        return {
            "created": sorted(f["name"] for f in self.creates),
            "updated": sorted(task.name for task, _ in self.updates),
            "unchanged": sorted(self.unchanged),
            "refused": list(self.refused),
            "pruned": sorted(task.name for task in self.prunes),
        }


class ImportRefused(ValidationError):
    """An import with refused tasks: nothing was written. ``plan`` has the refusals."""

    def __init__(self, plan: Plan) -> None:
        first = plan.refused[0]
        label = f"task at index {first['index']}" + (f" ({first['name']!r})" if first["name"] else "")
        more = len(plan.refused) - 1
        super().__init__(f"{label}: {first['message']}" + (f" (and {more} more refused)" if more else "")
                         + "; nothing was changed", first["field"])
        self.plan = plan

    def to_dict(self) -> dict:
        """The error, and the whole diff with every refusal."""
        return {**super().to_dict(), **self.plan.answer()}


def _refuse(plan: Plan, index: int, name: Any, field_name: str | None, message: str) -> None:
    label = name if isinstance(name, str) else None
    plan.refused.append({"index": index, "name": label[:200] if label else None,
                         "field": field_name, "message": message[:MAX_MESSAGE]})


def _json_problem(value: Any, path: str) -> tuple[str, str] | None:
    """A value YAML gave that JSON cannot carry (the loader already refuses most)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return path or "body", "keys must be strings"
            found = _json_problem(item, f"{path}.{key}" if path else key)
            if found:
                return found
    elif isinstance(value, list):
        for item in value:
            found = _json_problem(item, path)
            if found:
                return found
    elif not isinstance(value, (str, int, float, bool, type(None))):
        return path or "body", f"a {type(value).__name__} is not a task value"
    return None


def plan_import(specs: list[Any], prune: bool = False) -> Plan:
    """Validate every task of ``specs`` against the others and the database; change nothing."""
    plan = Plan()
    stored = {task.name: task for task in store.list_tasks()}
    default = yaml_io.defaults()
    graph_of_file: dict[str, list[str]] = {}
    first_index: dict[str, int] = {}
    for index, raw in enumerate(specs):
        name = raw.get("name") if isinstance(raw, dict) else None
        if not isinstance(raw, dict):
            _refuse(plan, index, None, None, "each task must be a mapping of fields (name: ..., kind: ...)")
            continue
        problem = _json_problem(raw, "")
        if problem:
            _refuse(plan, index, name, *problem)
            continue
        full = {**default, **raw}
        existing = stored.get(name.strip()) if isinstance(name, str) else None
        try:
            if existing is not None and yaml_io.same_json(full, store.editable(existing)):
                fields = store.editable(existing)  # as stored (validated when saved)
            else:
                current = store.editable(existing) if existing is not None else None
                fields = clean_task(full, existing=current)
        except ValidationError as exc:
            _refuse(plan, index, name, exc.field, exc.message)
            if isinstance(name, str):
                first_index.setdefault(name.strip(), index)
                graph_of_file.setdefault(name.strip(), [])  # refused: no spurious "no task named"
            continue
        name = fields["name"]
        if name in first_index:
            _refuse(plan, index, name, "name", f"duplicate name: the task at index {first_index[name]} "
                    "has it too")
            continue
        first_index[name] = index
        graph_of_file[name] = [entry["task"] for entry in fields["then"] or []]
        existing = stored.get(name)
        if existing is None:
            plan.creates.append(fields)
            continue
        changed = sorted(audit.diff(store.editable(existing), fields))
        if changed:
            plan.updates.append((existing, fields))
            plan.changes[name] = changed
        else:
            plan.unchanged.append(name)
    if prune:
        plan.prunes = [task for name, task in sorted(stored.items()) if name not in first_index]
    _check_chains(plan, stored, graph_of_file, first_index)
    return plan


def _check_chains(plan: Plan, stored: dict[str, Task], graph_of_file: dict[str, list[str]],
                  first_index: dict[str, int]) -> None:
    """Unknown names and cycles over the set as it would be after the import (one pass
    over the graph: a file of a thousand chained tasks is checked in linear time)."""
    pruned = {task.name for task in plan.prunes}
    graph = {name: [entry["task"] for entry in task.then or []]
             for name, task in stored.items() if name not in pruned}
    graph.update(graph_of_file)
    refused = {r["index"] for r in plan.refused}
    looping = on_cycles(graph)
    for name, children in graph_of_file.items():
        if first_index[name] in refused:
            continue
        try:
            for child in children:
                if child in pruned:
                    raise ValidationError(f"{child[:80]!r} is not in the file and would be pruned",
                                          "then.task")
            links.check_graph(graph, [name] if name in looping else [], "then")
            for child in children:
                if child not in graph:
                    raise ValidationError(f"no task named {child[:80]!r}", "then.task")
        except ValidationError as exc:
            _refuse(plan, first_index[name], name, exc.field, exc.message)
    plan.refused.sort(key=lambda r: r["index"])


def on_cycles(graph: dict[str, list[str]]) -> set[str]:
    """The names on some cycle of ``graph`` (Tarjan's strongly connected components,
    iterative): a component of two or more, or a task that chains to itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[str] = set()
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph.get(root, [])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, []))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, []):
                    found.update(component)
    return found


def apply_import(plan: Plan, actor: str) -> dict[str, Any]:
    """Write the plan in one transaction, audit each task, announce after the commit.

    Raises:
        ImportRefused: when the plan has refusals (nothing written).
        Conflict: when another writer took a name meanwhile (nothing written).
    """
    if plan.refused:
        raise ImportRefused(plan)
    entries: list[AuditEntry] = []
    announcements: list[tuple[str, int]] = []
    try:
        for task in plan.prunes:
            announcements.append(("deleted", task.id))
            entries.append(store.stage_delete(task, actor))
        db.session.flush()
        for task, fields in plan.updates:
            entry = store.stage_update(task, fields, actor)
            if entry is not None:
                entries.append(entry)
                announcements.append(("updated", task.id))
        created = [store.stage_create(fields) for fields in plan.creates]
        db.session.flush()  # once, for the new ids
        for task in created:
            entries.append(store.audit_create(task, actor))
            announcements.append(("created", task.id))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("another change took one of the file's names meanwhile; nothing was changed",
                       "name") from None
    except Exception:
        db.session.rollback()
        raise
    for entry in entries:
        audit.publish(entry)
    for action, task_id in announcements:
        store.announce(action, task_id)
    return plan.answer()


def import_tasks(specs: list[Any], actor: str, dry_run: bool = False, prune: bool = False) -> tuple[Plan, dict]:
    """Plan, then (unless ``dry_run``) apply: ``(plan, answer)``."""
    plan = plan_import(specs, prune=prune)
    if dry_run:
        db.session.rollback()  # nothing staged, but leave the session clean
        return plan, plan.answer()
    return plan, apply_import(plan, actor)


def export_text() -> str:
    """Every task as the YAML file ``tasks export`` writes."""
    return yaml_io.dump([store.editable(task) for task in store.list_tasks()])
