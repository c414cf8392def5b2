#!/usr/bin/env bash
# Production: the ASGI server, Celery workers and Celery beat against PostgreSQL and Redis.
# Scale out by running more of these (web on more machines, workers on more machines).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL}" "${REDIS_URL:?set REDIS_URL}" "${SECRET_KEY:?set SECRET_KEY}"
BIN=.venv/bin
# Production reads only the environment, never the development settings make dev left in var/.
export WIREFLOW_ENV_FILE=""
# Migrations run before the new web processes start (make build collected the static files).
$BIN/python manage.py migrate --noinput
WEB_WORKERS=${WEB_WORKERS:-2}
CELERY_CONCURRENCY=${CELERY_CONCURRENCY:-4}
# prefork (a process per slot) or threads (slots as threads of one process, for executions that
# mostly wait on models; wireflow_site/task_limits.py enforces their time limits).
CELERY_POOL=${CELERY_POOL:-prefork}
# Stop once: a trap that signalled the whole group (itself included) re-entered itself and
# kept sending SIGTERM, which could leave a Celery process stuck in its warm shutdown.
children=()
stop() {
  trap - EXIT INT TERM
  kill -TERM "${children[@]}" 2>/dev/null || true
  wait
}
trap stop EXIT INT TERM
# Workers hold one plain connection per process (prefork children cannot share a pool).
WIREFLOW_DB_POOL_SIZE=0 $BIN/celery -A wireflow_site worker --loglevel=INFO \
  --pool "$CELERY_POOL" --concurrency "$CELERY_CONCURRENCY" &
children+=($!)
WIREFLOW_DB_POOL_SIZE=0 $BIN/celery -A wireflow_site beat --loglevel=INFO \
  --schedule var/celerybeat-schedule &
children+=($!)
$BIN/uvicorn wireflow_site.asgi:application --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" \
  --workers "$WEB_WORKERS" --proxy-headers --timeout-keep-alive 75 &
children+=($!)
wait -n
