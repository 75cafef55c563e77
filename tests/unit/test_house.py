"""The house of docs/architecture.md holds: every import between webapp's rooms points
down, RQ is touched by the run dispatch module only, every server event goes out
through one emit helper, and modules stay small."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEBAPP = ROOT / "webapp"
# Bottom up: a room may import only the rooms below it.
FLOORS = ["core", "live", "access", "secrets", "runs", "scheduling", "tasks", "alerts", "cli", "metrics", "web"]


def modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{a.name}") for a in node.names)
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names)
    return found


def test_every_import_between_rooms_points_down():
    upward = []
    for path in modules("webapp"):
        parts = path.relative_to(WEBAPP).parts
        if len(parts) == 1:
            continue  # create_app and embed.py sit above every room
        room = parts[0]
        for line, name in imported(path):
            target = name.split(".")
            if target[0] == "webapp" and len(target) > 1 and target[1] in FLOORS \
                    and FLOORS.index(target[1]) > FLOORS.index(room):
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert upward == []


def test_webapp_never_imports_worker():
    found = [f"{p.relative_to(ROOT)}:{line} {name}" for p in modules("webapp")
             for line, name in imported(p) if name.split(".")[0] == "worker"]
    assert found == []


def test_only_the_run_dispatch_module_touches_rq():
    found = [str(p.relative_to(ROOT)) for p in modules("webapp")
             if any(name.split(".")[0] == "rq" for _, name in imported(p))]
    assert found == ["webapp/runs/dispatch.py"]


def test_every_server_event_goes_out_through_the_one_emit_helper():
    """``.emit(`` on an emitter or on Socket.IO appears in the helper only (the batching
    manager delivers inside the Socket.IO server and is not an emit of the app)."""
    allowed = {"webapp/live/events.py", "webapp/live/fanout.py"}
    found = []
    for path in modules("webapp", "worker"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "emit" and isinstance(node.func.value, (ast.Call, ast.Name, ast.Attribute)):
                owner = ast.unparse(node.func.value)
                if owner != "events" and str(path.relative_to(ROOT)) not in allowed:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {owner}.emit")
    assert found == []


def test_at_most_eight_modules_directly_in_webapp():
    assert len([p for p in WEBAPP.glob("*.py")]) <= 8


@pytest.mark.parametrize("folder", ["webapp", "worker", "static/js"])
def test_no_module_over_400_lines(folder):
    suffix = "*.js" if folder.startswith("static") else "*.py"
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / folder).rglob(suffix)
            if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}
