# Taskpulse: `make run` (set up and start web + worker + scheduler), `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# The PostgreSQL path is proved against this server (a fresh database is made beside it).
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: setup system-deps run test test-js test-postgres postgres-reachable screenshot lint clean

setup: $(VENV)/.stamp node_modules/.stamp

$(VENV)/.stamp: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Debian packages the tests need (Chromium for the browser tests, redis-server for
# the private Redis each test session starts, nginx for the proxy tests,
# systemd-analyze to check the shipped units, prometheus and promtool to scrape a real
# Taskpulse and check the shipped alert rules, PostgreSQL's initdb and pg_ctl for the
# private cluster the outage test stops and starts). Installs only what is missing.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx-light"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	command -v prometheus >/dev/null || missing="$$missing prometheus"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

run: setup
	@scripts/run-local.sh

# Strict: a test whose tool (Chromium, nginx, systemd-analyze, PostgreSQL) is missing
# fails instead of being skipped, so a green run means everything ran.
test: export TASKPULSE_TESTS_STRICT = 1
test: setup system-deps postgres-reachable
	$(MAKE) --no-print-directory test-js
	$(BIN)/python -m pytest --durations=25
	$(MAKE) --no-print-directory test-postgres

# The front end's unit tests (the live-sync rules): Node's own runner, no npm package.
test-js:
	node --test tests/js/

# The whole-system tests again on PostgreSQL at TEST_POSTGRES_URL (unit tests use their
# own SQLite files and fakes; the pages use only the API and Socket.IO, which these
# tests cover on both). No PostgreSQL there is a failure.
test-postgres: setup postgres-reachable
	TASKPULSE_TEST_DATABASE_URL="$(TEST_POSTGRES_URL)" $(BIN)/python -m pytest --durations=25 tests/e2e

postgres-reachable: setup
	@$(BIN)/python -c "import psycopg,sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()" "$(TEST_POSTGRES_URL)" || \
	  { echo "PostgreSQL not reachable at $(TEST_POSTGRES_URL) (set TEST_POSTGRES_URL): the PostgreSQL pass cannot run" >&2; exit 1; }

# The README's picture of the scheduler page (docs/images/scheduler.png), taken by the
# first-run browser test a minute after seeding as `make run` does.
screenshot: setup
	TASKPULSE_README_SCREENSHOT=1 $(BIN)/python -m pytest tests/browser/test_first_run.py -q

lint: setup
	$(BIN)/ruff check webapp worker tests bench wsgi.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache
