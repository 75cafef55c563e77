"""Chains between tasks (``then``): which names exist, cycles, and who points at whom.

A chain names tasks by name (as the YAML export does), so these checks read every
task's ``then`` list: a few hundred small JSON values.
"""
from __future__ import annotations

from sqlalchemy import select

from webapp.core.errors import Conflict, ValidationError
from webapp.core.extensions import db
from webapp.core.models import Task

Graph = dict[str, list[str]]


def stored_graph() -> Graph:
    """Every task's name -> the names its ``then`` list starts."""
    rows = db.session.execute(select(Task.name, Task.then)).all()
    return {name: [entry["task"] for entry in (then or [])] for name, then in rows}


def find_cycle(graph: Graph, start: str) -> list[str] | None:
    """A cycle ``a -> ... -> a`` reachable from ``start`` through ``graph``, or None.

    Iterative (an explicit stack): a chain of a thousand tasks, as an import may bring,
    must not hit Python's recursion limit.
    """
    path: list[str] = [start]
    on_path: set[str] = {start}
    done: set[str] = set()
    pending: list[list[str]] = [list(reversed(graph.get(start, [])))]
    while pending:
        children = pending[-1]
        if not children:
            pending.pop()
            finished = path.pop()
            on_path.discard(finished)
            done.add(finished)
            continue
        child = children.pop()
        if child in on_path:
            return path[path.index(child):] + [child]
        if child in done:
            continue
        path.append(child)
        on_path.add(child)
        pending.append(list(reversed(graph.get(child, []))))
    return None


def check_graph(graph: Graph, names: list[str], field: str = "then") -> None:
    """Refuse a ``then`` that names no task, or a cycle through any of ``names``.

    Raises:
        ValidationError: on ``field``, naming the unknown task or the cycle.
    """
    for name in names:
        for child in graph.get(name, []):
            if child not in graph:
                raise ValidationError(f"no task named {child[:80]!r}", f"{field}.task")
        cycle = find_cycle(graph, name)
        if cycle is not None:
            raise ValidationError("would make a cycle: " + " -> ".join(cycle), field)


def check_task_then(name: str, then: list[dict] | None, old_name: str | None = None) -> None:
    """Check one task's ``then`` (being saved as ``name``, formerly ``old_name``)
    against every other task as stored."""
    graph = stored_graph()
    if old_name is not None and old_name != name:
        graph.pop(old_name, None)
        graph = {key: [name if child == old_name else child for child in children]
                 for key, children in graph.items()}
    graph[name] = [entry["task"] for entry in (then or [])]
    check_graph(graph, [name])


def chained_from(name: str) -> list[str]:
    """Names of the other tasks whose ``then`` starts ``name``, sorted."""
    return sorted(key for key, children in stored_graph().items() if name in children and key != name)


def refuse_delete_if_chained(name: str) -> None:
    """Raises Conflict (field ``then``) naming the tasks that chain to ``name``."""
    parents = chained_from(name)
    if parents:
        raise Conflict(f"tasks chain to {name!r}: {', '.join(parents)}; remove it from their "
                       "'then' first", "then")


def rename_references(old: str, new: str) -> list[Task]:
    """Point the other tasks' ``then`` entries at ``new`` (in the session; no commit)."""
    changed = []
    for task in db.session.execute(select(Task).where(Task.then.is_not(None))).scalars():
        then = task.then or []
        if any(entry["task"] == old for entry in then):
            task.then = [dict(entry, task=new) if entry["task"] == old else entry for entry in then]
            changed.append(task)
    return changed
