"""Django settings, derived from the one validated configuration in ``gotong.config``.

Nothing here reads the environment directly: change ``gotong/config.py`` to add
a variable. There is no relational database: SurrealDB is reached through
``apps.core.db`` and ``DATABASES`` stays empty (Django's dummy backend).
"""

from __future__ import annotations

from pathlib import Path

from gotong.config import load_config

BASE_DIR = Path(__file__).resolve().parent.parent
CONFIG = load_config(dotenv_path=BASE_DIR / ".env")

APP_VERSION = "0.1.0"
# Django's own key; never the JWT key (one key per purpose: apps/core/keys.py).
SECRET_KEY = CONFIG.secret_key
DEBUG = False
ALLOWED_HOSTS = list(CONFIG.allowed_hosts)
CSRF_TRUSTED_ORIGINS = list(CONFIG.csrf_trusted_origins)

INSTALLED_APPS = [
    # contrib.auth/contenttypes are installed for their classes only (AnonymousUser,
    # password hashers); their ORM models are never queried.
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.staticfiles",
    # The moderators' admin site reuses the admin's templates and CSS only (no ModelAdmin, no ORM table).
    "django.contrib.admin.apps.SimpleAdminConfig",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "apps.core",
    "apps.accounts",
    "apps.webhooks",
    "apps.evidence",
    "apps.chat",
    "apps.moderation",
    "apps.transparency",
    "apps.demo",
]

# Every middleware is async and runs on the event loop (no thread hop per request, issue 14):
# Django's three are wrapped in apps/core/loop_middleware.py; tests/core/test_thread_hops.py guards it.
MIDDLEWARE = [
    "apps.core.middleware.TracingMiddleware",
    "apps.core.middleware.RequestContextMiddleware",
    "apps.core.loop_middleware.SecurityMiddleware",
    "apps.core.middleware.SecurityHeadersMiddleware",
    "apps.core.middleware.BodyLimitMiddleware",
    "apps.accounts.middleware.AuthenticationMiddleware",
    "apps.core.ratelimit.RateLimitMiddleware",
    "apps.core.loop_middleware.CsrfViewMiddleware",
    "apps.core.loop_middleware.XFrameOptionsMiddleware",
]

# The admin app is installed for its templates and CSS only: the admin site authenticates with
# the gr_session token (apps/moderation/admin_auth.py), not contrib sessions/auth/messages.
SILENCED_SYSTEM_CHECKS = ["admin.E402", "admin.E404", "admin.E406", "admin.E408", "admin.E409", "admin.E410"]

ROOT_URLCONF = "gotong.urls"
ASGI_APPLICATION = "gotong.asgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "apps.core.template_backend.DjangoTemplates",  # Django's, without a cycle per render
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csrf",
                "apps.accounts.context_processors.principal",
            ],
        },
    }
]

DATABASES: dict = {}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
MEDIA_ROOT = (BASE_DIR / CONFIG.media_root).resolve()

# Request bodies: the middleware answers 413 from Content-Length before reading;
# Django's own limit backs it up for chunked bodies.
DATA_UPLOAD_MAX_MEMORY_SIZE = CONFIG.max_body_bytes
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# Sessions are never database-backed: pages use the signed gr_session token cookie.
SESSION_COOKIE_NAME = "gr_session"
AUTH_COOKIE_NAME = "gr_session"
AUTH_COOKIE_SECURE = CONFIG.app_env != "development" and CONFIG.app_env != "test"
CSRF_COOKIE_SECURE = AUTH_COOKIE_SECURE
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "apps.core.views.csrf_failure"

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if CONFIG.is_production:
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.accounts.authentication.GotongAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "apps.core.api.CommonAcceptNegotiation",
    # Depth limit, strict UTF-8, no lone surrogates (docs/api-conventions.md, "Hostile bodies").
    "DEFAULT_PARSER_CLASSES": ["apps.core.api.StrictJSONParser"],
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Gotong Royong API",
    "DESCRIPTION": "Community mutual-aid platform: chat, contributions, Proof-of-Reality evidence, vouches.",
    "VERSION": APP_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The one PATCH (message edit) requires its body like a POST does; no all-optional "Patched*" shape.
    "COMPONENT_SPLIT_PATCH": False,
    "SCHEMA_PATH_PREFIX": r"/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.openapi.refuse_nul_in_inputs",
        "apps.core.openapi.require_bodies",
    ],
}

SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": CONFIG.jwt_secret,
    "ACCESS_TOKEN_LIFETIME": __import__("datetime").timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": __import__("datetime").timedelta(days=7),
    "USER_ID_FIELD": "user_id",
    "USER_ID_CLAIM": "sub",
    "TOKEN_TYPE_CLAIM": "token_type",
    "JTI_CLAIM": "jti",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
}

CHANNEL_LAYERS = (
    {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [CONFIG.redis_url], "prefix": CONFIG.chat_realtime_channel_prefix},
        }
    }
    if CONFIG.chat_realtime_transport == "redis"
    else {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Order matters: the context ids are added first, then the record is scrubbed of secrets.
    "filters": {
        "context": {"()": "apps.core.logging.ContextFilter"},
        "scrub": {"()": "apps.core.logging.ScrubSecretsFilter"},
    },
    "formatters": {
        "json": {"()": "apps.core.logging.JsonFormatter"},
        "text": {"()": "apps.core.logging.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context", "scrub"],
            "formatter": "json" if CONFIG.is_production else "text",
        }
    },
    "root": {"handlers": ["console"], "level": CONFIG.log_level},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "uvicorn": {"level": "WARNING"},
    },
}
