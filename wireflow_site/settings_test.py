"""Settings for the test suite: real PostgreSQL and Redis on this machine unless told otherwise."""

import os

# The tests configure themselves: never the development settings `make dev` left in var/.
os.environ.setdefault("WIREFLOW_ENV_FILE", "")
os.environ.setdefault("SECRET_KEY", "test-only-insecure-key")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/wireflow")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
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
