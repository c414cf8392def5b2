"""Settings for the test suite: real PostgreSQL and Redis on this machine unless told otherwise."""

import os
from urllib.parse import urlsplit, urlunsplit

# The tests configure themselves: never the development settings `make dev` left in var/.
os.environ.setdefault("WIREFLOW_ENV_FILE", "")
os.environ.setdefault("SECRET_KEY", "test-only-insecure-key")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/wireflow")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
# pytest-xdist's workers (make test runs two) each get a test database of their own from
# pytest-django (a _gw0, _gw1 suffix). Each gets a Redis database of its own here, counting down
# from the one given, so that one worker's Celery queues, channel layer and cache flushes never
# reach the other's. The processes a test starts inherit it, already counted.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if (_worker.startswith("gw") and _worker[2:].isdigit()
        and os.environ.get("WIREFLOW_TEST_REDIS_OF") != _worker):
    _url = urlsplit(os.environ["REDIS_URL"])
    _number = int(_url.path.strip("/") or 0) - int(_worker[2:])
    os.environ["REDIS_URL"] = urlunsplit(_url._replace(path=f"/{_number % 16}"))
    os.environ["WIREFLOW_TEST_REDIS_OF"] = _worker
os.environ.setdefault("WIREFLOW_SIMULATORS", "1")
# The test database is created, flushed and dropped under the test process's feet: plain
# connections here; the production-mode tests run their servers with the pool.
os.environ.setdefault("WIREFLOW_DB_POOL_SIZE", "0")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Close connections after each request: the live server's threads must not keep the test
# database open when it is dropped.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# Other suites run hundreds of model executions with fresh teams; credit tests set exact
# balances themselves.
SIGNUP_CREDITS = 1_000_000
# Other suites run hundreds of calls and executions per test; the rate-limit tests switch the
# limits on with pytest-django's `settings` fixture (the live server runs in this process too).
RATE_LIMITS_ENABLED = False
