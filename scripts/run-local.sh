#!/usr/bin/env bash
# `make run`: database schema and example tasks, a private Redis when none is
# reachable, then web + worker + alerts worker + scheduler in the foreground (Ctrl-C stops all).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export PORT="${PORT:-5000}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
# instance/ (0700) holds the secret key and the SQLite file (0600 each): other users
# of the machine could otherwise read password hashes and forge sessions.
mkdir -p -m 700 instance
chmod 700 instance
if [ -z "${SECRET_KEY:-}" ]; then
  # Kept in instance/ so sessions survive a restart.
  SECRET_KEY="$(python -m webapp.core.instance_files secret-key instance)"
  export SECRET_KEY
fi
if [ -z "${TASKPULSE_SECRETS_KEY:-}" ] && [ -z "${TASKPULSE_SECRETS_KEY_FILE:-}" ]; then
  # The secrets' Fernet key ring, in a file so that `secrets rotate-key` can replace it
  # while web, workers and scheduler run (they read it at each use).
  TASKPULSE_SECRETS_KEY_FILE="$(python -m webapp.core.instance_files secrets-key-file instance)"
  export TASKPULSE_SECRETS_KEY_FILE
fi

redis_up() {
  python - "$REDIS_URL" <<'PY'
import sys
from webapp.core import redis_urls
try:
    redis_urls.connect(sys.argv[1], socket_connect_timeout=1).ping()
except Exception:
    sys.exit(1)
PY
}

if ! redis_up; then
  if [[ "$REDIS_URL" != redis://* ]]; then
    echo "Redis is not reachable at $REDIS_URL (a private redis-server is only started for redis:// URLs)." >&2
    exit 1
  fi
  if ! command -v redis-server >/dev/null; then
    echo "Redis is not reachable at $REDIS_URL and redis-server is not installed." >&2
    echo "Install it (apt-get install redis-server) or set REDIS_URL." >&2
    exit 1
  fi
  port="$(python -c 'import sys; from urllib.parse import urlparse; print(urlparse(sys.argv[1]).port or 6379)' "$REDIS_URL")"
  echo "Redis not reachable at $REDIS_URL: starting a private redis-server on port $port"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$PWD/instance" \
    --logfile "$PWD/instance/redis.log" &
  redis_pid=$!
  trap 'kill $redis_pid 2>/dev/null || true' EXIT
  for _ in $(seq 50); do redis_up && break; sleep 0.1; done
fi

flask --app wsgi db upgrade --seed
# Only that set-up step creates the first admin: web, worker and scheduler run for long
# and must not carry the password in their environment (nor hand it to every job).
unset ADMIN_PASSWORD
echo
echo "  Taskpulse is starting on http://127.0.0.1:$PORT/  (Ctrl-C stops web, workers and scheduler)"
echo "  Sign in as 'admin': the password is ADMIN_PASSWORD if you set it before the first run,"
echo "  otherwise the one printed above on the first run. Forgot it?"
echo "    .venv/bin/flask --app wsgi users password admin"
echo
honcho start -f Procfile
