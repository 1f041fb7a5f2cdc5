"""Starts the DOT issuer: migrates a fresh SQLite database in --data-dir, creates the users and
OAuth applications below, then serves on 127.0.0.1:--port (0: any free port) until killed.

    .venv/bin/python Tests/e2e/dot_issuer/run.py --data-dir /tmp/dot --port 8000

Once it serves, <data-dir>/ready.json names the port, the issuer, the clients and the users
(written to a temporary name and renamed, so a reader never sees half of it). Request and DOT
logs go to stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The project is the package dot_issuer, next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dot_issuer.settings")

import django_runner  # noqa: E402  (needs the path above)

PASSWORDS = {"alice": "alice-Django-1", "bob": "bob-Django-2"}  # created in this order: pk 1 and 2

# The MCP client: public (no secret; PKCE), authorization code. Loopback redirect URIs match any
# port (RFC 8252), so MCP clients on the desktop may listen where they like.
MCP_CLIENT_ID = "plugboard-mcp"
MCP_REDIRECT_URIS = [
    "http://127.0.0.1/callback",
    "http://localhost:8080/callback",  # Claude Code with --callback-port 8080
    "https://claude.ai/api/mcp/auth_callback",
    "https://claude.com/api/mcp/auth_callback",
]
# Another application of the site (its own web portal): confidential, authorization code. Its
# tokens must not open Plugboard (unless bound to Plugboard's URL with RFC 8707 `resource`).
OTHER_CLIENT_ID = "company-portal"
OTHER_CLIENT_SECRET = "portal-Secret-3"
OTHER_REDIRECT_URI = "http://127.0.0.1/portal/callback"
# Plugboard's introspection credentials: confidential; it never asks for tokens itself. The
# secret has characters that must be form-encoded in HTTP Basic (RFC 6749 §2.3.1).
RS_CLIENT_ID = "plugboard-rs"
RS_CLIENT_SECRET = "rs+secret%2Fwith/odd=chars"


def create_fixtures() -> dict:
    from django.contrib.auth import get_user_model
    from oauth2_provider.models import get_application_model

    User = get_user_model()
    Application = get_application_model()
    users = {}
    for name, password in PASSWORDS.items():
        user = User.objects.create_user(name, password=password)
        users[name] = {"pk": user.pk, "password": password}

    def application(**fields) -> None:
        app = Application(**fields)
        app.full_clean()  # the checks the admin would run (redirect URIs, grant type)
        app.save()  # hashes client_secret (Application.hash_client_secret defaults to True)

    application(
        name="MCP clients (Claude, Claude Code, tests)",
        client_id=MCP_CLIENT_ID,
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(MCP_REDIRECT_URIS),
    )
    application(
        name="Company portal",
        client_id=OTHER_CLIENT_ID,
        client_secret=OTHER_CLIENT_SECRET,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=OTHER_REDIRECT_URI,
    )
    application(
        name="Plugboard (introspection)",
        client_id=RS_CLIENT_ID,
        client_secret=RS_CLIENT_SECRET,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    return {
        "users": users,
        "mcp_client": {"client_id": MCP_CLIENT_ID, "redirect_uris": MCP_REDIRECT_URIS},
        "other_client": {"client_id": OTHER_CLIENT_ID, "client_secret": OTHER_CLIENT_SECRET, "redirect_uri": OTHER_REDIRECT_URI},
        "introspection_client": {"client_id": RS_CLIENT_ID, "client_secret": RS_CLIENT_SECRET},
    }


def before_setup(base_url: str) -> None:
    os.environ["DOT_ISSUER"] = f"{base_url}/o"


def prepare(base_url: str) -> dict:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    return {
        "issuer": os.environ["DOT_ISSUER"],
        "introspection_url": f"{base_url}/o/introspect/",
        "revocation_url": f"{base_url}/o/revoke_token/",
        "token_url": f"{base_url}/o/token/",
        "authorization_url": f"{base_url}/o/authorize/",
        "metadata_url": f"{base_url}/.well-known/oauth-authorization-server/o",
    } | create_fixtures()


if __name__ == "__main__":
    django_runner.serve(__doc__.splitlines()[0], "DOT_DATA_DIR", before_setup, prepare)
