"""The worker side of issue 12 against the real system (eventlet server, forking rq
worker, Redis): a job's environment is the allow-list plus its run's variables whatever
the worker was started with (item 2); switches hold when the job starts in a worker whose
settings differ from the web's (item 3); foreign jobs on the queue fail without running
(item 4); a bad progress line is output (item 7); the worker refuses a callable that is
not a public function of its module (item 8)."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import uuid
import zlib
from pathlib import Path

import pytest
import redis
import requests
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from tests.support.live_client import LiveClient
from tests.support.processes import Process, Stack, free_port, wait_until
from worker.jobenv import ALLOWED_ENV, allowed

JOBS = "tests.e2e.worker_hardening_jobs"
# What the worker is started with on top of the stack's settings: none may reach a job.
WORKER_SECRETS = {
    "ADMIN_PASSWORD": "admin-password-the-worker-must-not-pass-on",
    "TASKPULSE_SECRETS_KEY": "secrets-key-the-worker-must-not-pass-on",
    "TASKPULSE_SOME_SETTING": "setting-the-worker-must-not-pass-on",
    "AWS_SECRET_ACCESS_KEY": "cloud-key-the-worker-must-not-pass-on",
}
FORBIDDEN = ("SECRET_KEY", "ADMIN_PASSWORD", "DATABASE_URL", "REDIS_URL")
# Variables /bin/sh itself sets in what it runs.
SHELL_OWN = {"PWD", "OLDPWD", "SHLVL", "_"}
TERMINAL = {"success", "failed", "stopped", "canceled"}


@pytest.fixture(scope="module")
def hard(request, tmp_path_factory, redis_server, database_url):
    """Web + one forking worker started with extra secrets in its environment."""
    workdir = tmp_path_factory.mktemp("worker-hardening")
    redis_server.client().flushdb()
    stack = Stack(redis_server, workdir, async_mode="eventlet", database_url=database_url,
                  extra_env={"TASKPULSE_PYTHON_MODULES": f"worker.examples,{JOBS}"})
    try:
        stack.start(workers=0)
        stack.start_worker(env=dict(stack.env, **WORKER_SECRETS))
    except Exception:
        print(stack.logs())
        stack.stop()
        raise
    failed_before = request.session.testsfailed
    yield stack
    stack.stop()
    if request.session.testsfailed > failed_before:
        print(stack.logs())


@pytest.fixture
def live(hard):
    client = LiveClient(hard.base_url).connect()
    yield client
    client.disconnect()


def run_to_end(stack, task_id: int, timeout: float = 30) -> dict:
    response = stack.api("POST", f"/tasks/{task_id}/run")
    assert response.status_code == 202, response.text
    run_id = response.json()["run_id"]
    return wait_until(lambda: (r := stack.api("GET", f"/runs/{run_id}").json())["status"] in TERMINAL and r,
                      timeout, what=f"run {run_id} to end")


def secret_values(stack) -> list[str]:
    return [stack.env[name] for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL")] + list(WORKER_SECRETS.values())


def assert_confined(env: dict[str, str], run: dict, task_name: str, stack, extra: set[str] = frozenset()) -> None:
    for name in (*FORBIDDEN, *WORKER_SECRETS):
        assert name not in env, f"{name} reached the job"
    assert not [v for v in secret_values(stack) if v in json.dumps(env)]
    assert env["TASKPULSE_RUN_ID"] == str(run["id"]) and env["TASKPULSE_TASK"] == task_name
    assert "PATH" in env and "HOME" in env
    unexpected = {n for n in env if not allowed(n)} - {"TASKPULSE_RUN_ID", "TASKPULSE_TASK"} - extra
    assert not unexpected, f"not in the allow-list {ALLOWED_ENV}: {sorted(unexpected)}"


# --- item 2: the job's environment -------------------------------------------------------


def test_a_shell_task_running_env_sees_no_secret_of_the_worker(hard, unique_name):
    task = hard.create_task(unique_name, "env")
    run = run_to_end(hard, task["id"])
    assert run["status"] == "success", run
    env = dict(line.split("=", 1) for line in run["output"].splitlines() if "=" in line)
    assert_confined(env, run, unique_name, hard, extra=SHELL_OWN)
    for value in secret_values(hard):
        assert value not in run["output"]


def test_a_python_job_and_what_it_starts_see_no_secret_of_the_worker(hard, unique_name):
    task = hard.create_task(unique_name, kind="python", config={"callable": f"{JOBS}:environment"})
    run = run_to_end(hard, task["id"])
    assert run["status"] == "success", run
    seen = json.loads(run["output"])
    assert_confined(seen["own"], run, unique_name, hard)
    assert_confined(seen["child"], run, unique_name, hard)


# --- item 4: foreign jobs -------------------------------------------------------------------


def test_foreign_jobs_fail_without_running_and_the_worker_carries_on(hard, unique_name, tmp_path):
    redis = hard.redis.client()
    marks = {kind: tmp_path / f"{kind}-{uuid.uuid4().hex}" for kind in ("json", "pickle", "lookalike")}
    json_queue = Queue("taskpulse", connection=redis, serializer=JSONSerializer)
    pickle_queue = Queue("taskpulse", connection=redis)  # RQ's default: pickle
    jobs = [
        (json_queue.enqueue("subprocess.call", ["touch", str(marks["json"])]), JSONSerializer),
        (pickle_queue.enqueue(subprocess.call, ["touch", str(marks["pickle"])]), None),
        # An allowed module's function, with an id shaped like a run's: still not the job function.
        (json_queue.enqueue(f"{JOBS}.make_file", str(marks["lookalike"]), job_id="run-987654"), JSONSerializer),
    ]
    assert pickle.loads(zlib.decompress(redis.hget(f"rq:job:{jobs[1][0].id}", "data")))

    def status(job, serializer):
        return Job.fetch(job.id, connection=redis, serializer=serializer).get_status()

    for job, serializer in jobs:
        wait_until(lambda: status(job, serializer) == "failed", 20, what=f"foreign job {job.id} to fail")
    failed = FailedJobRegistry("taskpulse", connection=redis).get_job_ids()
    assert {job.id for job, _ in jobs} <= set(failed)
    assert not [path for path in marks.values() if path.exists()], "a foreign job ran"
    log = hard.workers[0].output()
    assert all(f"job {job.id} on queue taskpulse refused without running" in log for job, _ in jobs)
    # The worker is alive and still runs Taskpulse's jobs.
    assert hard.workers[0].alive()
    task = hard.create_task(unique_name, "echo still serving")
    run = run_to_end(hard, task["id"])
    assert (run["status"], run["output"]) == ("success", "still serving\n")


# --- item 7: bad progress lines --------------------------------------------------------------


def test_a_bad_progress_line_is_output_and_the_run_succeeds(hard, live, unique_name):
    huge = "::progress " + "9" * 400
    command = (f"echo '::progress 999999999999999999999'; echo '{huge}'; echo '::progress 30 fine'; "
               "sleep 0.2; echo after")
    task = hard.create_task(unique_name, command)
    run = run_to_end(hard, task["id"])
    assert run["status"] == "success", run
    assert run["output"] == f"::progress 999999999999999999999\n{huge}\nafter\n"
    # The valid line after them still became progress, live.
    live.wait_for(lambda c: any((e["progress"], e.get("progress_message")) == (30, "fine")
                                for e in c.run_events(run["id"])), 10, "progress 30 of the run")


# --- items 3 and 8: the worker's own switches -----------------------------------------------


def test_switches_of_the_worker_hold_when_its_job_starts(hard, live, unique_name):
    """The web allows shell and the jobs module; the only worker now allows neither."""
    shell = hard.create_task(f"{unique_name}-shell", "touch /dev/null; echo ran",
                             retries={"max": 2, "backoff": [0]})
    python = hard.create_task(f"{unique_name}-py", kind="python", config={"callable": f"{JOBS}:greet"})
    for worker in list(hard.workers):
        worker.stop()
    hard.workers.clear()
    hard.start_worker(env=dict(hard.service_env(), TASKPULSE_SHELL_ENABLED="0",
                               TASKPULSE_PYTHON_MODULES="worker.examples"))
    try:
        shell_run = run_to_end(hard, shell["id"])
        assert (shell_run["status"], shell_run["error"]) == ("failed", "shell tasks are switched off")
        assert shell_run["attempt"] == 1 and shell_run["output"] in (None, "")
        event = live.wait_status(shell_run["id"], "failed")
        assert event["error"] == "shell tasks are switched off"
        assert "retrying" not in live.statuses(shell_run["id"])

        python_run = run_to_end(hard, python["id"])
        assert python_run["status"] == "failed" and JOBS in python_run["error"]
        assert "not allowed" in python_run["error"]
        assert live.wait_status(python_run["id"], "failed")["error"] == python_run["error"]
    finally:
        for worker in list(hard.workers):
            worker.stop()
        hard.workers.clear()
        hard.start_worker(env=dict(hard.env, **WORKER_SECRETS))


# --- item 2: ADMIN_PASSWORD stays with the set-up step -------------------------------------


def processes_with_env(marker: bytes) -> dict[int, tuple[str, bytes]]:
    """Live processes whose environment contains ``marker``: pid -> (command line, environ)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found[int(entry.name)] = (cmdline, environ)
    return found


def test_make_run_creates_the_admin_and_keeps_its_password_out_of_web_worker_and_scheduler(
        redis_server, tmp_path):
    password = f"first-admin-{uuid.uuid4().hex}"
    port = free_port()
    # A Redis database of its own: this worker must not take other tests' jobs.
    redis_url = redis_server.url.rsplit("/", 1)[0] + "/7"
    env = dict(os.environ, PORT=str(port), REDIS_URL=redis_url, ADMIN_PASSWORD=password,
               DATABASE_URL=f"sqlite:///{tmp_path / 'make-run.db'}", SECRET_KEY=uuid.uuid4().hex * 2,
               PYTHONUNBUFFERED="1")
    marker = f"REDIS_URL={redis_url}".encode()
    run = Process("make-run", ["bash", "scripts/run-local.sh"], env, tmp_path).start()
    try:
        def services():
            found = {name: pid for pid, (cmdline, _) in processes_with_env(marker).items()
                     for name, needle in (("web", "wsgi.py"), ("worker", "rq worker"),
                                          ("scheduler", "worker.scheduler"))
                     if needle in cmdline and "/bin/sh" not in cmdline}
            return found if len(found) == 3 else None

        pids = wait_until(services, 60, what=f"web, worker and scheduler of make run:\n{run.output()[-2000:]}")
        def healthy() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok
            except requests.RequestException:
                return False

        wait_until(healthy, 30, what="the web")
        for name, pid in pids.items():
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            assert b"ADMIN_PASSWORD=" not in environ and password.encode() not in environ, name
        # The set-up step did use it: the first admin signs in with it.
        response = requests.get(f"http://127.0.0.1:{port}/api/tasks", auth=("admin", password), timeout=10)
        assert response.status_code == 200, response.text
    finally:
        run.stop()
        wait_until(lambda: not processes_with_env(marker), 20, what="make run's processes to end")
        redis.Redis.from_url(redis_url).flushdb()
