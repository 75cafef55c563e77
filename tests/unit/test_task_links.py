"""Queues, tags and chains (``queue``, ``tags``, ``then``) as the JSON API takes them:
shapes, unknown tasks, cycles direct and through other tasks, deleting and renaming a
task that others chain to. Refusals are 4xx naming the field, with nothing stored."""
from __future__ import annotations

import pytest

from tests.unit.test_task_input import assert_error, listing


def make(client, name: str, **fields) -> dict:
    response = client.post("/api/tasks", json={"name": name, "kind": "shell",
                                               "config": {"command": "true"}, **fields})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_defaults_are_the_default_queue_no_tags_no_chain(client):
    task = make(client, "plain")
    assert (task["queue"], task["tags"], task["then"]) == ("taskpulse", [], [])


def test_queue_tags_and_then_are_stored_and_read_back(client):
    make(client, "scan")
    task = make(client, "update-db", queue="scanners", tags=["db", "heavy", "db"],
                then=[{"task": "scan", "when": "success"}, "scan", {"task": "scan", "when": "always"}])
    assert task["queue"] == "scanners"
    assert task["tags"] == ["db", "heavy"]  # duplicates dropped, order kept
    assert task["then"] == [{"task": "scan", "when": "success"}, {"task": "scan", "when": "always"}]
    again = client.get(f"/api/tasks/{task['id']}").get_json()
    assert (again["queue"], again["tags"], again["then"]) == (task["queue"], task["tags"], task["then"])


@pytest.mark.parametrize(("fields", "field"), [
    ({"queue": "scan ners"}, "queue"),
    ({"queue": ""}, "queue"),
    ({"queue": "q" * 65}, "queue"),
    ({"queue": "a/b"}, "queue"),
    ({"queue": 7}, "queue"),
    ({"tags": "scan"}, "tags"),
    ({"tags": ["ok", "not ok"]}, "tags"),
    ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
    ({"then": {"task": "x"}}, "then"),
    ({"then": [{"task": "nobody"}]}, "then.task"),
    ({"then": [{"task": "scan", "when": "sometimes"}]}, "then.when"),
    ({"then": [{"task": "scan", "extra": 1}]}, "then"),
    ({"then": [{"task": ""}]}, "then.task"),
    ({"then": [{"task": "new-task"}]}, "then"),  # itself: a cycle of one
])
def test_bad_queue_tags_or_then_is_refused_naming_the_field(client, fields, field):
    make(client, "scan")
    before = listing(client)
    response = client.post("/api/tasks", json={"name": "new-task", "kind": "shell",
                                               "config": {"command": "true"}, **fields})
    assert_error(response, 400, "invalid", field)
    assert listing(client) == before


def test_a_cycle_through_other_tasks_is_refused_and_names_the_path(client):
    a = make(client, "a")
    make(client, "b", then=["a"])
    make(client, "c", then=["b"])
    response = client.patch(f"/api/tasks/{a['id']}", json={"then": [{"task": "c", "when": "failure"}]})
    error = assert_error(response, 400, "invalid", "then")
    assert "a -> c -> b -> a" in error["message"]
    assert client.get(f"/api/tasks/{a['id']}").get_json()["then"] == []


def test_deleting_a_task_others_chain_to_is_refused_with_their_names(client):
    scan = make(client, "scan")
    make(client, "update-db", then=["scan"])
    make(client, "refresh", then=[{"task": "scan", "when": "always"}])
    response = client.delete(f"/api/tasks/{scan['id']}")
    error = assert_error(response, 409, "conflict", "then")
    assert "refresh, update-db" in error["message"]
    assert client.get(f"/api/tasks/{scan['id']}").status_code == 200


def test_renaming_a_chained_task_updates_the_lists_that_name_it(client):
    scan = make(client, "scan")
    parent = make(client, "update-db", then=["scan"])
    response = client.patch(f"/api/tasks/{scan['id']}", json={"name": "vuln-scan"})
    assert response.status_code == 200
    assert client.get(f"/api/tasks/{parent['id']}").get_json()["then"] == [{"task": "vuln-scan", "when": "success"}]


def test_a_cycle_of_two_is_refused(client):
    y = make(client, "y")
    make(client, "x", then=["y"])
    response = client.patch(f"/api/tasks/{y['id']}", json={"then": ["x"]})
    error = assert_error(response, 400, "invalid", "then")
    assert "y -> x -> y" in error["message"]
