"""Starts the projects API of test_rest_bridge.py: a fresh SQLite database in --data-dir, served
on 127.0.0.1:--port until killed. PLUGBOARD_JWKS_URL, PLUGBOARD_AUDIENCE and PLUGBOARD_ISSUER
configure simplejwt (settings.py). Once it serves, <data-dir>/ready.json names the port.

    .venv/bin/python Tests/e2e/rest_api/run.py --data-dir /tmp/api --port 8000
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rest_api.settings")

import django_runner  # noqa: E402  (needs the path above)


def prepare(base_url: str) -> dict:
    from django.core.management import call_command

    # The projects app has no migrations: its table is made from the model.
    call_command("migrate", interactive=False, verbosity=0, run_syncdb=True)
    return {}


if __name__ == "__main__":
    django_runner.serve(__doc__.splitlines()[0], "REST_API_DATA_DIR", lambda base_url: None, prepare)
