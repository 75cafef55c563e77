"""The suite cannot pass by not running: under CI (and ``make test``) a missing
Chromium fails the browser tests, and ``make test-postgres`` fails when PostgreSQL
does not answer, instead of reporting success."""
from __future__ import annotations

import subprocess

import pytest

from tests.browser.conftest import require_chromium
from tests.support.processes import ROOT, free_port


@pytest.mark.parametrize("variable, value", [("CI", "true"), ("TASKPULSE_TESTS_STRICT", "1")])
def test_a_missing_chromium_fails_under_ci(monkeypatch, tmp_path, variable, value):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("TASKPULSE_TESTS_STRICT", raising=False)
    monkeypatch.setenv(variable, value)
    with pytest.raises(pytest.fail.Exception, match="not installed"):
        require_chromium(str(tmp_path / "no-chromium"))


def test_a_missing_chromium_only_skips_outside_ci(monkeypatch, tmp_path):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("TASKPULSE_TESTS_STRICT", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_chromium(str(tmp_path / "no-chromium"))


def test_the_postgresql_pass_fails_when_postgresql_does_not_answer():
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    done = subprocess.run(["make", "--no-print-directory", "-s", "test-postgres", f"TEST_POSTGRES_URL={url}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert f"PostgreSQL not reachable at {url}" in done.stderr
    assert "passed" not in done.stdout  # no pytest ran


@pytest.mark.parametrize("strict_run", [True, False], ids=["strict", "plain"])
def test_a_missing_postgresql_fails_the_outage_test_under_make_test(monkeypatch, strict_run):
    from tests.support import postgres_cluster

    def missing():
        raise postgres_cluster.PostgresMissing("PostgreSQL's initdb and pg_ctl were not found")

    monkeypatch.setattr(postgres_cluster, "bindir", missing)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("TASKPULSE_TESTS_STRICT", raising=False)
    if strict_run:
        monkeypatch.setenv("TASKPULSE_TESTS_STRICT", "1")
    with pytest.raises(pytest.fail.Exception if strict_run else pytest.skip.Exception, match="initdb"):
        postgres_cluster.require_cluster()
