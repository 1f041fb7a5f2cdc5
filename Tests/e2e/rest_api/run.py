"""Starts the projects API of test_rest_bridge.py: a fresh SQLite database in --data-dir, served
on 127.0.0.1:--port until killed. PLUGBOARD_JWKS_URL, PLUGBOARD_AUDIENCE and PLUGBOARD_ISSUER
configure simplejwt (settings.py). Once it serves, <data-dir>/ready.json names the port.

    .venv/bin/python Tests/e2e/rest_api/run.py --data-dir /tmp/api --port 8000
"""

from __future__ import annotations

import argparse
import json
import os
import socketserver
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rest_api.settings")


def watch_parent() -> None:
    """Exits once its parent is gone: a killed test run leaves no API behind."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--exit-with-parent", action="store_true")
    arguments = parser.parse_args()
    if arguments.exit_with_parent:
        watch_parent()
    data_dir = arguments.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["REST_API_DATA_DIR"] = str(data_dir)

    import django
    from django.core.management import call_command
    from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
    from django.core.wsgi import get_wsgi_application

    server_class = type("ThreadedWSGIServer", (socketserver.ThreadingMixIn, WSGIServer), {"daemon_threads": True})
    httpd = server_class(("127.0.0.1", arguments.port), WSGIRequestHandler)
    django.setup()
    # The projects app has no migrations: its table is made from the model.
    call_command("migrate", interactive=False, verbosity=0, run_syncdb=True)
    httpd.set_app(get_wsgi_application())
    ready = {"pid": os.getpid(), "port": httpd.server_port, "base_url": f"http://127.0.0.1:{httpd.server_port}"}
    temporary = data_dir / ".ready.json"
    temporary.write_text(json.dumps(ready))
    temporary.rename(data_dir / "ready.json")
    httpd.serve_forever()


if __name__ == "__main__":
    main()
