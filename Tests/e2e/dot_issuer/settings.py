"""A minimal Django site with django-oauth-toolkit (DOT) as the external issuer of Plugboard.

Started by `run.py` (DJANGO_SETTINGS_MODULE=dot_issuer.settings), which the end-to-end suite's
`test_oauth_dot.py` runs; the environment carries what differs per run: DOT_DATA_DIR (where the
SQLite database goes), DOT_ISSUER (http://127.0.0.1:PORT/o) and DJANGO_SECRET_KEY.
"""

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("DOT_DATA_DIR", BASE_DIR / ".data"))

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dot_issuer.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],  # registration/login.html
        "APP_DIRS": True,  # oauth2_provider/authorize.html, DOT's consent page
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ],
        },
    },
]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA_DIR / "db.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

LOGIN_URL = "/accounts/login/"  # where DOT's /o/authorize/ sends a visitor who is not signed in
STATIC_URL = "static/"  # not served (DEBUG is off): the consent page works without its stylesheet

OAUTH2_PROVIDER = {
    # The issuer, as Plugboard's auth.issuer names it (and the metadata's `issuer` and the `iss`
    # of authorization responses): fixed, not derived from each request's Host header.
    "OIDC_ISS_ENDPOINT": os.environ.get("DOT_ISSUER", ""),
    # `mcp` (Plugboard requires it on every token), every scope a tool manifest names
    # (projects:read, meetings:read; notes:write for when the notes tools ask for one), and the
    # site's own scopes, which Plugboard ignores. DOT lets any client ask for any of them.
    "SCOPES": {
        "mcp": "Use the MCP server",
        "projects:read": "Read your projects",
        "meetings:read": "Read your meetings",
        "notes:write": "Write your notes",
        "mobile": "Use the mobile app",
    },
    "DEFAULT_SCOPES": ["mobile"],  # a request without `scope` gets no MCP access
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,  # S256 only (metadata too)
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,  # RFC 9207 `iss` on the redirect
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,  # tokens stored as SHA-256 digests only
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,  # never ?access_token=
    "REFRESH_TOKEN_REUSE_PROTECTION": True,  # a replayed refresh token ends the whole grant
    # http is for loopback redirect URIs (MCP clients on the desktop, this test); DOT accepts any
    # port for http://127.0.0.1 redirect URIs (RFC 8252).
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    # RFC 8414 metadata: what MCP clients read; "none" = public clients with PKCE.
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token", "client_credentials"],
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["client_secret_basic", "client_secret_post", "none"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django.request": {"handlers": ["stderr"], "level": "WARNING"},
        "django.server": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "oauth2_provider": {"handlers": ["stderr"], "level": "DEBUG"},
    },
}
