"""All settings come from the environment (django-environ); one module for every deployment.

With nothing configured the product runs on SQLite, local files and a filesystem Celery broker,
all under DATA_DIR, so a fresh machine needs no server.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.FileAwareEnv()

import os  # noqa: E402
import tempfile  # noqa: E402

# Each pytest session (pytest sets PYTEST_VERSION) gets its own DATA_DIR unless one is given, so
# parallel runs never share a broker folder or media files.
_default_data_dir = tempfile.mkdtemp(prefix="dd-test-") if "PYTEST_VERSION" in os.environ else str(BASE_DIR / "var")
DATA_DIR = Path(env.str("DATA_DIR", default=_default_data_dir)).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

# Off unless asked: `make run` (deploy/dev.py run) asks for it; `make serve` and deploy/ never do.
# Test runs (pytest sets PYTEST_VERSION) keep the developer default so a fresh checkout's suite runs
# without a SECRET_KEY.
DEBUG = env.bool("DEBUG", default="PYTEST_VERSION" in os.environ)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once into DATA_DIR (dev only)."""
    value = env.str("SECRET_KEY", default="")
    if value:
        return value
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Absolute base URL used in links handed to clients (upload and download URLs). Empty: taken from
# the request.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "datasets_app",
]

MIDDLEWARE = [
    # First, so the trace id is bound and the timing covers every other middleware.
    "datasets_app.observability.RequestObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "dashboard.errors.SDKErrorMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"
ASGI_APPLICATION = "dashboard.asgi.application"
APPEND_SLASH = False  # the SDK's URLs have no trailing slash; a redirect would break its POSTs

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
                "dashboard.views.common.organisation_permissions",
            ],
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the worker write while the web process reads; the timeout rides out short locks.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Tests: a file, not shared-cache memory, so the live server, a worker thread and a long poll
    # wait on each other (WAL + timeout) instead of failing with "database table is locked".
    DATABASES["default"].setdefault("TEST", {"NAME": str(DATA_DIR / "test-db.sqlite3")})
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "datasets_app.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Invitations (the Users page): a link works once, for this long. Password reset links an
# organisation admin makes: Django's PASSWORD_RESET_TIMEOUT (seconds, 3 days by default).
INVITATION_EXPIRY_SECONDS = env.int("INVITATION_EXPIRY_SECONDS", default=7 * 24 * 3600)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 24 * 3600)
# E-mail for invitations and reset links, sent only when EMAIL_HOST is set (otherwise the page
# shows the link to copy, as it always does).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=not EMAIL_USE_SSL)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="datasets-dashboard@localhost")
LOGIN_URL = "dashboard:login"
LOGIN_REDIRECT_URL = "dashboard:dataset-list"
LOGOUT_REDIRECT_URL = "dashboard:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on a missing folder

# Hosted media: local files under DATA_DIR/media unless S3 is configured.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default=None)
    AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default=None)
    AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default=None)
    AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default=None)
    AWS_QUERYSTRING_EXPIRE = env.int("AWS_QUERYSTRING_EXPIRE", default=3600)
    AWS_DEFAULT_ACL = None
    AWS_S3_FILE_OVERWRITE = True
    _media_backend = {"BACKEND": "storages.backends.s3.S3Storage"}
else:
    _media_backend = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
STORAGES = {
    "default": _media_backend,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Celery: the embedded default is kombu's filesystem transport in DATA_DIR.
_broker_dir = DATA_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("in", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "in"),
        "data_folder_out": str(_broker_dir / "in"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # How often an idle worker looks for a message (kombu's default: each second). A listing of
        # a directory or two: cheap, and a job starts within ~0.1 s of being queued.
        "polling_interval": 0.1,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A task a dead worker had taken (acks_late) goes back to its queue after this many seconds.
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", 3600),
        # How often workers sweep for such tasks (kombu: interval x throttle seconds; 100 s default).
        "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", 10),
        "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", 10),
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Heavy video work on its own queue so a deployment can scale it apart from light jobs.
CELERY_TASK_ROUTES = {
    "datasets_app.tasks.run_video_data_job_task": {"queue": "media"},
    "datasets_app.tasks.reencode_videos_task": {"queue": "media"},
    "datasets_app.tasks.make_sequence_video_task": {"queue": "media"},
}
# Every queue declared: a worker started without -Q (`celery -A dashboard worker`, as Celery's
# documentation shows) consumes all of them; `-Q media` still makes a dedicated worker.
# Each its own direct exchange, as Celery created them before they were declared (same wire names).
from kombu import Exchange, Queue  # noqa: E402

CELERY_TASK_QUEUES = tuple(Queue(name, Exchange(name), routing_key=name) for name in ("default", "media"))
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=6 * 3600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=6 * 3600 - 60)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers log through LOGGING below (JSON with trace ids when LOG_FORMAT=json), not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Periodic maintenance (datasets_app/periodic.py), run by `celery -A dashboard beat`.
CELERY_IMPORTS = ["datasets_app.periodic"]
CELERY_BEAT_SCHEDULE = {
    "expire-upload-slots": {"task": "datasets_app.periodic.expire_upload_slots_task", "schedule": 15 * 60},
    "requeue-stuck-jobs": {"task": "datasets_app.periodic.requeue_stuck_jobs_task", "schedule": 5 * 60},
    "sweep-orphan-files": {"task": "datasets_app.periodic.sweep_orphan_files_task", "schedule": 6 * 3600},
    # partial browser uploads whose session can no longer finish
    "sweep-upload-staging": {"task": "datasets_app.periodic.sweep_upload_staging_task", "schedule": 3600},
    # recount each dataset's rows and bytes, fixing a counter that drifted (issue 14)
    "reconcile-dataset-stats": {"task": "datasets_app.periodic.reconcile_dataset_stats_task", "schedule": 6 * 3600},
}
# A job still PENDING/SUBMITTED this long after its row last moved is re-queued by beat. Default:
# past the task time limit, so a live run is never doubled; lower it when jobs are short.
JOB_STUCK_AFTER_SECONDS = env.int("JOB_STUCK_AFTER_SECONDS", default=CELERY_TASK_TIME_LIMIT + 600)

# Secrets at rest (API keys, integration credentials): Fernet keys, newest first. Unset: one key
# derived from SECRET_KEY, so rotating SECRET_KEY needs FIELD_ENCRYPTION_KEYS set to the old one.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# Limits
MAX_TITLE_LENGTH = 1024
MAX_DESCRIPTION_LENGTH = 10_000
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=5 * 1024 * 1024)
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=20 * 1024**3)
# Any other request body, under ASGI (dashboard/asgi.py): the largest are a 64 MiB manifest file
# and 32 MiB upload chunks from the dashboard.
REQUEST_MAX_BODY_BYTES = env.int("REQUEST_MAX_BODY_BYTES", default=65 * 1024 * 1024)
# Frame rate of the videos made of image groups created with create_video / createVideo.
IMAGE_SEQUENCE_FPS = env.float("IMAGE_SEQUENCE_FPS", default=10.0)
# Media bombs (datasets_app/media/bounded.py): every probe and thumbnail runs in a short-lived child
# process with this much address space and time; pixels are capped from headers before decoding.
MEDIA_PROBE_MEMORY_BYTES = env.int("MEDIA_PROBE_MEMORY_BYTES", default=1024**3)
MEDIA_PROBE_SECONDS = env.int("MEDIA_PROBE_SECONDS", default=900)
MEDIA_MAX_IMAGE_PIXELS = env.int("MEDIA_MAX_IMAGE_PIXELS", default=100_000_000)
MEDIA_MAX_UNIT_PIXELS = env.int("MEDIA_MAX_UNIT_PIXELS", default=2_000_000_000)
MEDIA_MAX_DICOM_INFLATED_BYTES = env.int("MEDIA_MAX_DICOM_INFLATED_BYTES", default=256 * 1024**2)
MEDIA_MAX_VIDEO_FRAMES = env.int("MEDIA_MAX_VIDEO_FRAMES", default=5_000_000)
MEDIA_FRAME_TABLE_MAX_BYTES = env.int("MEDIA_FRAME_TABLE_MAX_BYTES", default=64 * 1024)
# Address space of each ffmpeg re-encode / image-sequence encode (RLIMIT_AS; media/ffmpeg.py). ffmpeg
# maps ~1 GiB for a small encode on 2 cores, more with more cores and bigger frames.
MEDIA_REENCODE_MEMORY_BYTES = env.int("MEDIA_REENCODE_MEMORY_BYTES", default=4 * 1024**3)
UPLOAD_URL_LIFETIME_SECONDS = env.int("UPLOAD_URL_LIFETIME_SECONDS", default=24 * 3600)
# Per user or API key (datasets_app/sdk/uploads.py): uploads in progress (URLs issued, no job yet,
# not expired), and bytes declared by unfinished browser uploads staged on this server. 0: no limit.
UPLOAD_MAX_OPEN_SLOTS = env.int("UPLOAD_MAX_OPEN_SLOTS", default=10_000)
UPLOAD_MAX_STAGING_BYTES = env.int("UPLOAD_MAX_STAGING_BYTES", default=100 * 1024**3)
# Web tier (dashboard/asgi.py), per process: request bodies read at once before authentication
# (beyond: 503 + Retry-After), of them per client address, and the time a body may take to arrive:
# REQUEST_BODY_TIMEOUT_SECONDS plus Content-Length / REQUEST_BODY_MIN_RATE (bytes/s; beyond: 408).
# Signed upload PUTs have their own 300 s idle limit.
WEB_MAX_BODY_READS = env.int("WEB_MAX_BODY_READS", default=64)
WEB_MAX_BODY_READS_PER_CLIENT = env.int("WEB_MAX_BODY_READS_PER_CLIENT", default=16)
REQUEST_BODY_TIMEOUT_SECONDS = env.float("REQUEST_BODY_TIMEOUT_SECONDS", default=30.0)
REQUEST_BODY_MIN_RATE = env.int("REQUEST_BODY_MIN_RATE", default=64 * 1024)
SIGNED_URL_LIFETIME_SECONDS = env.int("SIGNED_URL_LIFETIME_SECONDS", default=3600)
API_SIGNATURE_MAX_AGE_SECONDS = env.int("API_SIGNATURE_MAX_AGE_SECONDS", default=600)
API_SIGNATURE_MAX_SKEW_SECONDS = env.int("API_SIGNATURE_MAX_SKEW_SECONDS", default=300)
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=1200)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

# The API rate limiter and the sign-in throttle count here, so every process and machine must share
# it: Django's database cache by default (table dd_cache, made by `migrate`); CACHE_URL=redis://...
# (a database other than the broker's: clearing a Redis cache empties its whole database) for atomic
# counting under load. Test runs keep a per-process cache (fixtures clear it without a database).
CACHES = {
    "default": env.cache(
        "CACHE_URL", default="locmemcache://" if "PYTEST_VERSION" in os.environ else "dbcache://dd_cache"
    )
}

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Production refuses plain HTTP: a v1 signature covers the body only and never expires, so TLS is
# what keeps a request from being captured and replayed (README "Security"). On by default when
# DEBUG is off (not in test runs: their live servers speak plain HTTP on loopback). Behind a TLS
# proxy that sets no X-Forwarded-Proto, set SECURE_SSL_REDIRECT=0 (else every request loops).
_HTTPS_ONLY = not DEBUG and "PYTEST_VERSION" not in os.environ
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_HTTPS_ONLY)
# Browsers remember to use HTTPS; sent on HTTPS responses only. Sub-domains and preload stay opt-in.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if _HTTPS_ONLY else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Health checks and scrapes come over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^livez$", r"^metrics$"]
# The TLS proxy in front says the request came over HTTPS with X-Forwarded-Proto: https.
if env.bool("SECURE_PROXY_SSL_HEADER", default=_HTTPS_ONLY):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# GET /metrics: with a token, needs "Authorization: Bearer <token>"; without one, answered only to
# loopback clients (a scraper on the same host). The same token shows /healthz's reasons.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

from datasets_app.observability import logging_config  # noqa: E402

# LOG_FORMAT=json: one JSON object a line with the request's/task's trace id.
# Any case: gunicorn reads the same variable in lower case (deploy/gunicorn.conf.py).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not {LOG_LEVEL!r}.")
LOGGING = logging_config(fmt=env.str("LOG_FORMAT", default="text"), level=LOG_LEVEL)
