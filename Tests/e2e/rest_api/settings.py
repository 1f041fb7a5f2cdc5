"""A Django REST Framework API that trusts Plugboard's bridge tokens (test_rest_bridge.py).

Authentication is stock djangorestframework-simplejwt: the SIMPLE_JWT block below is what
README's "Bridge an existing REST API" asks a real deployment to add. The values come from the
environment here because the test picks the ports.
"""

import os
from pathlib import Path

DATA_DIR = Path(os.environ["REST_API_DATA_DIR"])
SECRET_KEY = "rest-api-e2e-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "rest_api.urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "rest_api.projects.apps.ProjectsConfig",
]
MIDDLEWARE = ["rest_api.seen.RecordAuthorization"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(DATA_DIR / "api.sqlite3")}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
}

SIMPLE_JWT = {
    "ALGORITHM": "ES256",
    "JWK_URL": os.environ["PLUGBOARD_JWKS_URL"],  # https://mcp.example.com/.well-known/plugboard-bridge-jwks.json
    "AUDIENCE": os.environ["PLUGBOARD_AUDIENCE"],  # the manifest's http.audience
    "ISSUER": os.environ["PLUGBOARD_ISSUER"],  # Plugboard's server.public_url
    "USER_ID_CLAIM": "sub",
    "TOKEN_TYPE_CLAIM": None,  # bridge tokens are access tokens of their own kind
    "LEEWAY": 0,
}

LOGGING = {
    "version": 1,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "INFO"},
}
