"""Settings of the authzguard demo site, read from the environment.

Every knob the README and the tests use is an environment variable, so the same
site runs on SQLite with database sessions (the default) or on PostgreSQL with
Redis-backed sessions without editing a file:

- ``DATABASE_URL``: ``sqlite:///path`` (default: ``demo_site/db.sqlite3``) or
  ``postgres://user:password@host:port/name``.
- ``SESSION_ENGINE``: a dotted session engine path (default: the database engine).
- ``REDIS_URL``: when set, the default cache is Django's ``RedisCache`` at that URL.
- ``DJANGO_DEBUG``: ``1``/``0`` (default ``0``; ``make demo`` turns it on).
- ``DJANGO_ALLOWED_HOSTS``: comma-separated (default ``127.0.0.1,localhost``).
- ``DJANGO_SECRET_KEY``: when unset, a random key is generated once and kept in
  ``demo_site/.secret_key`` (git-ignored) so sessions survive a restart.
- ``DEMO_INSECURE``: ``1`` mounts the original, unprotected views under ``/insecure/``.
- ``DEMO_POLICY_PATH``: the policy file (default: ``policies/demo.yaml``); a copy
  elsewhere can be edited under a running server.
- ``AUTHZGUARD_RELOAD``, ``AUTHZGUARD_RELOAD_INTERVAL``, ``AUTHZGUARD_RELOAD_NOTIFY``:
  policy reload (docs/operations.md; default off); notify ``redis`` uses ``REDIS_URL``.
- ``DJANGO_PASSWORD_HASHERS``: comma-separated hasher paths (default: Django's); the
  tests use a fast one so that dozens of sign-ins take no time.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

DEMO_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = DEMO_DIR.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    # A typo such as DJANGO_DEBUG=ture must not silently pick a mode.
    raise ImproperlyConfigured(f"{name}={raw!r}: use 1 or 0 (also true/false, yes/no, on/off).")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def read_or_create_secret_key(path: Path) -> str:
    """The key in ``path``, created at random on first use.

    ``O_EXCL`` makes concurrent first starts agree on one key instead of each
    writing its own.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
        if not key:
            raise ImproperlyConfigured(
                f"{path} is empty: delete it or set DJANGO_SECRET_KEY."
            ) from None
        return key
    key = secrets.token_urlsafe(50)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


DEBUG = env_bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or read_or_create_secret_key(
    DEMO_DIR / ".secret_key"
)
DEMO_INSECURE = env_bool("DEMO_INSECURE", default=False)

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DEMO_DIR / 'db.sqlite3'}"
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # An unreachable Redis answers in a second (a 503), instead of hanging workers.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

SESSION_ENGINE = os.environ.get("SESSION_ENGINE") or "django.contrib.sessions.backends.db"
if importlib.util.find_spec(SESSION_ENGINE) is None:
    raise ImproperlyConfigured(
        f"SESSION_ENGINE={SESSION_ENGINE!r} is not an importable module; use a dotted path "
        "such as django.contrib.sessions.backends.cache."
    )

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "authzguard",
    "demo_app",
]

MIDDLEWARE = [
    # First: a database or Redis outage anywhere below answers 503 with Retry-After.
    "authzguard.outage.ServiceUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "authzguard.sessions.middleware.SessionIndexMiddleware",
    "authzguard.middleware.AuthzGuardMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "demo_app.middleware.MethodNotAllowedPageMiddleware",
]

ROOT_URLCONF = "demo_project.urls"
WSGI_APPLICATION = "demo_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "demo_app.context_processors.demo",
            ]
        },
    }
]

if os.environ.get("DJANGO_PASSWORD_HASHERS"):
    PASSWORD_HASHERS = env_list("DJANGO_PASSWORD_HASHERS", "")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "my-sessions"
LOGOUT_REDIRECT_URL = "home"

USE_TZ = True
TIME_ZONE = "UTC"

# The policy the demo enforces, and the strict mode a security team would run:
# a view with neither a binding nor an exemption is refused.
AUTHZGUARD_POLICY_PATHS = [
    Path(os.environ.get("DEMO_POLICY_PATH") or REPO_ROOT / "policies" / "demo.yaml")
]
# Policy reload across workers (docs/operations.md): off unless the environment says so.
AUTHZGUARD_RELOAD = os.environ.get("AUTHZGUARD_RELOAD") or "off"
AUTHZGUARD_RELOAD_INTERVAL = float(os.environ.get("AUTHZGUARD_RELOAD_INTERVAL") or 2.0)
AUTHZGUARD_RELOAD_NOTIFY = os.environ.get("AUTHZGUARD_RELOAD_NOTIFY") or None
AUTHZGUARD_REDIS_URL = REDIS_URL or None
AUTHZGUARD_DENY_BY_DEFAULT = True
# The insecure views are exempted by configuration, not by editing their code:
# they stay byte-for-byte the views that had the flaws.
AUTHZGUARD_ALLOWED_VIEWS = ["login", "logout", *(["insecure:*"] if DEMO_INSECURE else [])]
# "My sessions" shows which browser each session is.
AUTHZGUARD_SESSION_INDEX_CLIENT_INFO = True

# The demo is a project, so it may show the library's audit records on the console.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "authzguard": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "demo_app": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Server errors on the console even with DEBUG off, where Django's default is silence.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
