"""Django settings. Everything that varies between deployments comes from the environment.

With neither DATABASE_URL nor REDIS_URL set, the site runs on the embedded default: SQLite under
var/, a local-memory cache, an in-memory channel layer and an in-process executor. Setting them
switches to PostgreSQL, Redis (cache, channel layer, Celery broker) and Celery workers.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from .env import env_bool, env_float, env_int, env_list, env_str
from .staticfiles import immutable_file_test

django_stubs_ext.monkeypatch()  # ModelAdmin[Team] and the like, at runtime

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("WIREFLOW_VAR_DIR", str(BASE_DIR / "var")))
# `make dev` leaves its settings in var/dev.env, so that manage.py, celery or uvicorn started in
# another terminal of the same checkout run as it does. Variables already set win over the file;
# WIREFLOW_ENV_FILE names another file, or none when empty (make serve and the tests).
ENV_FILE = os.environ.get("WIREFLOW_ENV_FILE", str(VAR_DIR / "dev.env"))
if ENV_FILE:
    load_dotenv(ENV_FILE, override=False)

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production refuses to start without one "
            "(set DEBUG=1 for a local development key)."
        )
    # Development: one random key per checkout, kept outside git under var/.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
CSRF_FAILURE_VIEW = "wireflow_site.middleware.csrf_failure"  # JSON under /api/
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # naturaltime: "now", "3 minutes ago" on the lists
    "channels",
    # django-ninja's own templates and static files: the API docs (Swagger UI) are served by
    # the site itself, not from a CDN that a self-hosted or offline install may not reach.
    "ninja",
    "allauth",
    "allauth.account",
    "accounts",
    "workflows",
    "executions",
]

MIDDLEWARE = [
    "wireflow_site.middleware.RequestIdMiddleware",
    "executions.triggers.TriggerCorsMiddleware",
    "wireflow_site.middleware.RateLimitMiddleware",
    "wireflow_site.middleware.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "wireflow_site.urls"
ASGI_APPLICATION = "wireflow_site.asgi.application"
WSGI_APPLICATION = "wireflow_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.current_team",
            ],
        },
    },
]

# --- Services: embedded default unless the environment names them -------------------------

DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
EMBEDDED = not REDIS_URL

# PostgreSQL connections come from a bounded pool per process (psycopg 3's, through Django): a
# request waits up to DB_POOL_TIMEOUT seconds for a free one, then answers 503 with Retry-After
# instead of opening one more and meeting "too many clients". Size it so that
#   web processes × WIREFLOW_DB_POOL_SIZE + Celery worker processes + 1 (beat) ≤ max_connections
# (make serve runs the workers without a pool: one connection per worker process).
DB_POOL_SIZE = env_int("WIREFLOW_DB_POOL_SIZE", 10)
DB_POOL_TIMEOUT = env_float("WIREFLOW_DB_POOL_TIMEOUT", 10.0)

# Parameters bound by PostgreSQL rather than by psycopg, so that psycopg prepares a statement
# the connection has run DB_PREPARE_AFTER times: the engine's and the API's statements are the
# same few hundred shapes, each then parsed and planned once per connection instead of per run.
# 0 turns it off (a PgBouncer in transaction mode older than 1.21 cannot keep them).
DB_PREPARE_AFTER = env_int("WIREFLOW_DB_PREPARE_AFTER", 5)

if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    postgres = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    if postgres and DB_PREPARE_AFTER > 0:
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=DB_PREPARE_AFTER)
    if postgres and DB_POOL_SIZE > 0:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1, "max_size": DB_POOL_SIZE, "timeout": DB_POOL_TIMEOUT}
    else:
        # Kept for a minute across requests and tasks; checked before reuse, so a connection
        # that died with a PostgreSQL restart is replaced rather than failing a request (a
        # worker's skips the check when it served a task within the second: celery.py).
        DATABASES["default"]["CONN_MAX_AGE"] = 60
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "db.sqlite3"),
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "wireflow_site.cache.SharedPoolRedisCache",
                          "LOCATION": REDIS_URL}}
    # Pub/sub, each listener's inbox bounded (wireflow_site/channel_layer.py says why). A Redis
    # that stops answering is noticed within 15 s; connecting gives up after 5.
    CHANNEL_LAYERS = {"default": {"BACKEND": "wireflow_site.channel_layer.ChannelLayer",
                                  "CONFIG": {"hosts": [{"address": REDIS_URL,
                                                        "socket_timeout": 15,
                                                        "socket_connect_timeout": 5}]}}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Each worker slot reserves up to 4 messages (Celery's default): an advance is short (it never
# waits on a model), so a slot that ends a pass starts the next without first asking the broker
# for it. At 1, each slot fetched its next task only after acknowledging the last, and in B3 the
# one worker fell behind the executes (docs/benchmarks.md). What a killed worker had reserved is
# not lost: the sweeper advances those executions again.
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
# Every task has a time limit, so no work can hold a worker forever. The soft limit raises
# SoftTimeLimitExceeded in the task (executions/tasks.py ends the pass and wakes the execution
# again); the hard limit kills the worker process. Both sit well above the engine's longest
# bounded call (a provider request, a media fetch or a webhook delivery: 30 s each) and a pass's
# bookkeeping. A task killed by the hard limit is acknowledged, not redelivered (Celery's
# task_acks_on_failure_or_timeout): the same work would only hit the limit again; its
# execution's lease expires and the sweeper takes it over.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360)
if not 0 < CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "CELERY_TASK_SOFT_TIME_LIMIT must be positive and below CELERY_TASK_TIME_LIMIT "
        f"(got {CELERY_TASK_SOFT_TIME_LIMIT} and {CELERY_TASK_TIME_LIMIT})")
# The sweeper re-advances executions whose wake-up is overdue or whose worker died.
SWEEP_SECONDS = env_float("WIREFLOW_SWEEP_SECONDS", 5.0)
CELERY_BEAT_SCHEDULE = {
    # A sweep that waited in the queue longer than its interval is dropped (the next looks
    # again): behind a backlog, sweeps queued one after another would run back to back.
    "sweep-stalled-executions": {"task": "executions.sweep", "schedule": SWEEP_SECONDS,
                                 "options": {"expires": SWEEP_SECONDS}},
    # Idempotency-Key records are kept 24 hours (wireflow_site/idempotency.py).
    "purge-idempotency-keys": {"task": "executions.purge_idempotency", "schedule": 3600.0},
}
SWEEP_GRACE_SECONDS = env_float("WIREFLOW_SWEEP_GRACE_SECONDS", 5.0)
# A wake-up at least this far off is left to the sweeper (engine/runner.advance): it then comes
# up to a sweep interval plus the grace late, which a safety-net poll a minute off can afford.
ENGINE_SWEEPER_WAKES_AFTER_SECONDS = env_float("WIREFLOW_SWEEPER_WAKES_AFTER_SECONDS", 30.0)
# How long one advance() may hold an execution before another worker may take it over.
ENGINE_LEASE_SECONDS = env_float("WIREFLOW_LEASE_SECONDS", 15.0)
# How long one advance() keeps starting inline nodes before it hands the rest to a fresh task:
# well below the soft time limit, so a long chain of slow nodes never meets it.
ENGINE_PASS_SECONDS = env_float("WIREFLOW_ENGINE_PASS_SECONDS", CELERY_TASK_SOFT_TIME_LIMIT / 4)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts ---------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = True
LOGIN_REDIRECT_URL = "/workflows/"
LOGIN_URL = "/accounts/login/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/accounts/login/"

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Wireflow <noreply@localhost>")

# --- HTTP ------------------------------------------------------------------------------

API_MAX_BODY_BYTES = 256 * 1024
# The most text or data (as JSON) one node may build or pass on a port: media travel by URL, so
# a bigger value is a runaway (a template bomb, a regex replace multiplying its input).
MAX_TEXT_BYTES = env_int("WIREFLOW_MAX_TEXT_BYTES", 1_000_000)
# Per-team plan limits (accounts/plans.py, enforced by wireflow_site/ratelimit.py).
RATE_LIMITS_ENABLED = env_bool("WIREFLOW_RATE_LIMITS", True)
# Requests a minute one public webhook trigger URL accepts (on top of its team's execution
# limits, which all the team's keys and webhooks share); 0: no per-webhook limit.
WEBHOOK_RATE_LIMIT_PER_MINUTE = env_int("WIREFLOW_WEBHOOK_RATE_LIMIT", 60)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
# Uploaded media (POST /api/v1/uploads): the largest file accepted (413 above it).
UPLOAD_MAX_BYTES = env_int("WIREFLOW_UPLOAD_MAX_BYTES", 50 * 1024 * 1024)
# Batches: the most rows one batch may have, the largest CSV file, the most rows run at once.
BATCH_MAX_ROWS = env_int("WIREFLOW_BATCH_MAX_ROWS", 1000)
BATCH_CSV_MAX_BYTES = env_int("WIREFLOW_BATCH_CSV_MAX_BYTES", 5 * 1024 * 1024)
BATCH_MAX_CONCURRENCY = 50
# How often due schedules are looked for (Celery beat, or the embedded scheduler).
SCHEDULE_TICK_SECONDS = env_float("WIREFLOW_SCHEDULE_TICK_SECONDS", 10.0)
# Due schedules fire from beat like the sweeper; a tick not run within its interval is dropped
# (the next one looks again), and the schedule's claim makes any number of beats start one run.
CELERY_BEAT_SCHEDULE["fire-due-schedules"] = {
    "task": "executions.fire_schedules", "schedule": SCHEDULE_TICK_SECONDS,
    "options": {"expires": SCHEDULE_TICK_SECONDS}}
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", SITE_URL.startswith("https"))
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", SESSION_COOKIE_SECURE)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY") else None
# HTTPS only (what `manage.py check --deploy` asks for). Off by default: behind a TLS proxy the
# redirect needs BEHIND_PROXY=1, and HSTS cannot be taken back once browsers have seen it. The
# README's production settings turn them on. Health probes may stay on plain HTTP.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True
# The editor's hashed build files are cached for a year (wireflow_site/staticfiles.py).
WHITENOISE_IMMUTABLE_FILE_TEST = immutable_file_test
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Media (uploads, provider outputs) go to an S3-compatible bucket when one is named (AWS S3,
# MinIO, Cloudflare R2, ...), else to MEDIA_ROOT on the local disk, served by the site itself
# (SERVE_MEDIA) at MEDIA_URL. The README lists the WIREFLOW_S3_* variables.
S3_BUCKET = env_str("WIREFLOW_S3_BUCKET")
SERVE_MEDIA = env_bool("WIREFLOW_SERVE_MEDIA", not S3_BUCKET)
if S3_BUCKET:
    STORAGES = {
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env_str("WIREFLOW_S3_ENDPOINT_URL") or None,
            "region_name": env_str("WIREFLOW_S3_REGION") or None,
            # Unset: boto3's own chain (AWS_ACCESS_KEY_ID, an instance or pod role, ...).
            "access_key": env_str("WIREFLOW_S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("WIREFLOW_S3_SECRET_ACCESS_KEY") or None,
            "custom_domain": env_str("WIREFLOW_S3_CUSTOM_DOMAIN") or None,
            "location": env_str("WIREFLOW_S3_PREFIX"),
            "addressing_style": env_str("WIREFLOW_S3_ADDRESSING_STYLE") or None,
            "default_acl": env_str("WIREFLOW_S3_DEFAULT_ACL") or None,
            # Off: plain URLs, for a public-read bucket (URLs stay valid in saved workflows).
            # On: signed URLs that expire (a private bucket; re-upload after the expiry).
            "querystring_auth": env_bool("WIREFLOW_S3_SIGNED_URLS", False),
            "querystring_expire": env_int("WIREFLOW_S3_URL_EXPIRY_SECONDS", 7 * 24 * 3600),
            "signature_version": "s3v4",  # signed URLs live at most 7 days with it
            "file_overwrite": False,
        }},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
# Every file in a multipart body is counted while it is read and refused past UPLOAD_MAX_BYTES
# (executions/uploads.py); files over 2.5 MB are spooled to disk, never held in memory.
FILE_UPLOAD_HANDLERS = [
    "executions.uploads.UploadSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# --- Providers --------------------------------------------------------------------------

SIMULATORS_ENABLED = env_bool("WIREFLOW_SIMULATORS", DEBUG)
FAL_KEY = env_str("FAL_KEY")
# The platform's keys of the other providers (a team may bring its own: Settings > Providers).
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
ANTHROPIC_API_KEY = env_str("ANTHROPIC_API_KEY")
REPLICATE_API_TOKEN = env_str("REPLICATE_API_TOKEN")
STABILITY_API_KEY = env_str("STABILITY_API_KEY")
# Secrets that encrypt teams' provider keys at rest, comma-separated: the first encrypts, all
# decrypt (add a new one first, run `manage.py rotateproviderkeys`, then drop the old one).
# Unset: derived from SECRET_KEY and SECRET_KEY_FALLBACKS.
ENCRYPTION_KEYS = env_list("WIREFLOW_ENCRYPTION_KEYS", [])
SIM_DEFAULT_LATENCY = env_float("WIREFLOW_SIM_LATENCY", 0.3)
SIM_IMAGE_SCALE = env_float("WIREFLOW_SIM_IMAGE_SCALE", 0.5)
# fal's real queue unless the simulators stand in for it (no key, simulators on).
FAL_QUEUE_URL = env_str("FAL_QUEUE_URL", f"{SITE_URL}/_sim/fal"
                        if SIMULATORS_ENABLED and not FAL_KEY else "https://queue.fal.run")
# Replicate's API (predictions) unless the simulator stands in for it (no token, simulators on).
REPLICATE_API_URL = env_str("REPLICATE_API_URL", f"{SITE_URL}/_sim/replicate"
                            if SIMULATORS_ENABLED and not REPLICATE_API_TOKEN
                            else "https://api.replicate.com")
# The other providers' APIs, likewise: the simulators stand in while no platform key is set.
# OPENAI_BASE_URL may name any OpenAI-compatible API (OpenRouter, Groq, Together, vLLM, Ollama).
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL", f"{SITE_URL}/_sim/openai/v1"
                          if SIMULATORS_ENABLED and not OPENAI_API_KEY
                          else "https://api.openai.com/v1")
ANTHROPIC_BASE_URL = env_str("ANTHROPIC_BASE_URL", f"{SITE_URL}/_sim/anthropic"
                             if SIMULATORS_ENABLED and not ANTHROPIC_API_KEY
                             else "https://api.anthropic.com")
STABILITY_API_URL = env_str("STABILITY_API_URL", f"{SITE_URL}/_sim/stability"
                            if SIMULATORS_ENABLED and not STABILITY_API_KEY
                            else "https://api.stability.ai")
# The models that build a workflow from a sentence (POST /api/v1/workflows/generate/stream).
GENERATE_MODELS = {
    "openai": env_str("WIREFLOW_GENERATE_OPENAI_MODEL", "gpt-4o-mini"),
    "anthropic": env_str("WIREFLOW_GENERATE_ANTHROPIC_MODEL", "claude-sonnet-4-5")}
EXECUTION_DEADLINE_SECONDS = env_int("EXECUTION_DEADLINE_SECONDS", 3600)
# Credits every new team starts with (1 credit = US$0.01): enough to try the seed pipeline
# (about 40 credits a run) several times.
SIGNUP_CREDITS = env_int("WIREFLOW_SIGNUP_CREDITS", 500)
# Teams and templates: how long an invitation link works, and whether members may publish
# templates to every account on this instance (scope "public").
INVITATION_DAYS = env_int("WIREFLOW_INVITATION_DAYS", 7)
PUBLIC_TEMPLATES_ENABLED = env_bool("WIREFLOW_PUBLIC_TEMPLATES", True)
# Hosts exempt from the SSRF guard (tests and trusted internal services only).
SSRF_ALLOW_HOSTS = env_list("WIREFLOW_SSRF_ALLOW_HOSTS", [])
# The http:request node: the largest response body it reads (bytes; never above MAX_TEXT_BYTES,
# since the body travels on its ports).
HTTP_REQUEST_MAX_BYTES = env_int("WIREFLOW_HTTP_REQUEST_MAX_BYTES", 512 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "wireflow_site.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain",
                    "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # httpx logs every request at INFO, full URL included: a provider call's URL carries the
    # signed webhook token, which is a capability, and a line per call costs a busy worker.
    "loggers": {"httpx": {"level": "WARNING"}},
}
