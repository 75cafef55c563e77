"""Metrics and health with real parts: web, a forking worker and a scheduler on a private
Redis; a real Prometheus scraping /metrics with a Bearer token and loading the shipped
rules; the shipped dashboard's expressions; /readyz while Redis stops and returns."""
from __future__ import annotations

import json
import subprocess

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import ROOT, VENV_BIN, Process, RedisServer, Stack, wait_until
from tests.support.prometheus import Prometheus, binary

DEPLOY = ROOT / "deploy" / "prometheus"
RULES = DEPLOY / "taskpulse-alerts.yml"
DASHBOARD = DEPLOY / "grafana-dashboard.json"
OK, BAD = "metrics-ok", "metrics-bad"


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    """Web + worker + scheduler on a Redis of their own (append-only, so a restart keeps
    the worker's registration): this module stops and restarts Redis."""
    workdir = tmp_path_factory.mktemp("metrics")
    redis_server = RedisServer(workdir, appendonly=True).start()
    stack = Stack(redis_server, workdir, extra_env={"TASKPULSE_METRICS_CACHE_SECONDS": "0.5"})
    scheduler = None
    try:
        stack.start()
        scheduler = Process(f"scheduler-{stack.port}", [str(VENV_BIN / "python"), "-m", "worker.scheduler"],
                            stack.service_env(), workdir).start()
        stack.scheduler = scheduler
        yield stack
    finally:
        if scheduler is not None:
            scheduler.stop()
        stack.stop()
        redis_server.stop()


@pytest.fixture(scope="module")
def token(system) -> str:
    issued = system.flask("users", "token", "admin", "--label", "prometheus")
    return issued.stdout.strip().splitlines()[-1]


def run_and_wait(stack: Stack, task_id: int, status: str) -> None:
    run = stack.api("POST", f"/tasks/{task_id}/run").json()
    wait_until(lambda: stack.api("GET", f"/runs/{run['run_id']}").json()["status"] == status, 30,
               what=f"run {run['run_id']} to end {status}")


@pytest.fixture(scope="module")
def history(system):
    """Three successes of one task and a failure of another, all ended."""
    ok = system.create_task(OK, "true")
    bad = system.create_task(BAD, "exit 3")
    for _ in range(3):
        run_and_wait(system, ok["id"], "success")
    run_and_wait(system, bad["id"], "failed")
    return {OK: ok, BAD: bad}


def scrape(system, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{system.base_url}/metrics", headers=headers, timeout=5)


def runs_total(text: str) -> dict[tuple[str, str, str], float]:
    return {(s.labels["task"], s.labels["status"], s.labels["trigger"]): s.value
            for f in text_string_to_metric_families(text) if f.name == "taskpulse_runs"
            for s in f.samples if s.name == "taskpulse_runs_total"}


def test_metrics_count_the_runs_that_happened(system, history, token):
    want = {(OK, "success", "manual"): 3.0, (BAD, "failed", "manual"): 1.0}
    assert wait_until(lambda: runs_total(scrape(system, token).text) == want or None, 10,
                      what="/metrics to show the runs")
    text = scrape(system, token).text
    assert 'taskpulse_workers 1.0' in text
    assert f'taskpulse_run_duration_seconds_count{{task="{OK}"}} 3.0' in text


def test_metrics_without_a_token_is_401(system):
    response = scrape(system, None)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert scrape(system, "tp_not-a-real-token").status_code == 401


def test_promtool_passes_the_shipped_rules():
    result = subprocess.run([binary("promtool"), "check", "rules", str(RULES)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.fixture(scope="module")
def prometheus(system, history, token, tmp_path_factory):
    server = Prometheus(tmp_path_factory.mktemp("prometheus"), f"127.0.0.1:{system.port}", token,
                        [RULES]).start()
    yield server
    server.stop()


def test_prometheus_scrapes_runs_and_histograms(prometheus, system):
    wait_until(lambda: prometheus.values(f'taskpulse_runs_total{{task="{OK}"}}'), 30,
               interval=0.2, what="prometheus to scrape taskpulse")
    [target] = prometheus.api("targets")["data"]["activeTargets"]
    assert target["health"] == "up", target
    assert prometheus.values("taskpulse_runs_total") == {
        (("status", "success"), ("task", OK), ("trigger", "manual")): 3.0,
        (("status", "failed"), ("task", BAD), ("trigger", "manual")): 1.0,
    }
    assert prometheus.values("taskpulse_run_duration_seconds_count") == {
        (("task", OK),): 3.0, (("task", BAD),): 1.0}
    inf = prometheus.values(f'taskpulse_queue_wait_seconds_bucket{{task="{OK}",le="+Inf"}}')
    assert list(inf.values()) == [3.0]
    [last_ok] = prometheus.values(f'taskpulse_task_last_success_timestamp_seconds{{task="{OK}"}}').values()
    finished = [r["finished_at"] for r in system.api("GET", f"/tasks/{_task_id(system, OK)}/runs").json()["runs"]]
    assert abs(last_ok - max(_unix(f) for f in finished)) < 1.5  # the API rounds to the second
    assert prometheus.values("taskpulse_workers") == {(): 1.0}


def _task_id(system, name: str) -> int:
    return next(t["id"] for t in system.api("GET", "/tasks").json()["tasks"] if t["name"] == name)


def _unix(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_the_shipped_rules_load_and_every_expression_evaluates(prometheus):
    wait_until(lambda: prometheus.values("taskpulse_workers"), 30, interval=0.2, what="a scrape")
    groups = wait_until(lambda: prometheus.api("rules")["data"]["groups"], 30, interval=0.2,
                        what="the rules to load")
    rules = [rule for group in groups for rule in group["rules"]]
    assert {r["name"] for r in rules} >= {"TaskpulseTaskSuccessOverdue", "TaskpulseHighFailureRatio",
                                          "TaskpulseNoWorker", "TaskpulseNoSchedulerLeader",
                                          "TaskpulseQueueBacklog", "TaskpulseScheduleLag"}
    wait_until(lambda: all(r.get("lastEvaluation", "").startswith("2") and
                           not r["lastEvaluation"].startswith("0001") for r in prometheus.api("rules")["data"]
                           ["groups"][0]["rules"]), 30, interval=0.2, what="every rule to be evaluated once")
    rules = [rule for group in prometheus.api("rules")["data"]["groups"] for rule in group["rules"]]
    assert {r["name"]: r["health"] for r in rules} == {r["name"]: "ok" for r in rules}
    errors = {r["name"]: prometheus.query(r["query"]).get("error") for r in rules}
    assert errors == {name: None for name in errors}
    # With a worker and a leader up, those two rules find nothing to alert on.
    quiet = {r["name"]: prometheus.values(r["query"]) for r in rules
             if r["name"] in ("TaskpulseNoWorker", "TaskpulseNoSchedulerLeader")}
    assert quiet == {"TaskpulseNoWorker": {}, "TaskpulseNoSchedulerLeader": {}}


def test_every_dashboard_expression_evaluates(prometheus):
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(exprs) >= 10
    # Grafana's variables, as Grafana fills them for "All" tasks and a short range.
    filled = {e: e.replace("$__rate_interval", "1m").replace("$task", ".*") for e in exprs}
    errors = {e: prometheus.query(q).get("error") for e, q in filled.items()}
    assert errors == dict.fromkeys(exprs)
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for subject in ("status", "duration", "queue wait", "schedule lag", "workers", "clients"):
        assert subject in titles


def test_readyz_follows_redis(system):
    def readyz() -> requests.Response:
        return requests.get(f"{system.base_url}/readyz", timeout=10)

    wait_until(lambda: readyz().status_code == 200, 30, interval=0.2, what="/readyz 200 (worker and leader up)")
    assert readyz().json() == {"status": "ok", "checks": dict.fromkeys(
        ["database", "redis", "workers", "scheduler"], "ok")}
    system.redis.stop()
    try:
        # (a 503 Response is falsy, so the wait returns its body)
        down = wait_until(lambda: (r := readyz()).status_code == 503 and r.json(), 30, interval=0.2,
                          what="/readyz 503 with Redis stopped")
        assert "redis" in down["failing"] and down["checks"]["database"] == "ok"
        # Liveness does not follow Redis: a supervisor must not restart this process.
        health = requests.get(f"{system.base_url}/healthz", timeout=5)
        assert (health.status_code, health.json()) == (200, {"ok": True})
    finally:
        system.redis.start()
    wait_until(lambda: readyz().status_code == 200, 60, interval=0.2, what="/readyz 200 once Redis is back")
