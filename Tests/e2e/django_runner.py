"""What the Django apps the e2e tests start (dot_issuer/, rest_api/) share: their command line
(--data-dir, --port, --exit-with-parent), a threaded WSGI server on loopback bound before Django
starts (so the port is known, and ours, from then on), and <data-dir>/ready.json, written to a
temporary name and renamed so a reader never sees half of it."""

from __future__ import annotations

import argparse
import json
import os
import socketserver
import sys
import threading
import time
from pathlib import Path
from typing import Callable


def watch_parent() -> None:
    """Exits when this process is handed to another parent (its own parent died): a test run that
    is killed leaves no server behind."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def serve(description: str, data_dir_variable: str, before_setup: Callable[[str], None], prepare: Callable[[str], dict]) -> None:
    """Parses the command line, binds, then: `before_setup(base_url)` (environment the settings
    read), `django.setup()`, `prepare(base_url)` (migrations, fixtures; returns what ready.json
    adds), and serves until killed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data-dir", required=True, type=Path, help="an empty folder for the database and ready.json")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--exit-with-parent", action="store_true", help="exit when the process that started this one is gone")
    arguments = parser.parse_args()
    if arguments.exit_with_parent:
        watch_parent()
    data_dir = arguments.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ[data_dir_variable] = str(data_dir)

    import django
    from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
    from django.core.wsgi import get_wsgi_application

    server_class = type("ThreadedWSGIServer", (socketserver.ThreadingMixIn, WSGIServer), {"daemon_threads": True})
    httpd = server_class(("127.0.0.1", arguments.port), WSGIRequestHandler)
    base_url = f"http://127.0.0.1:{httpd.server_port}"
    before_setup(base_url)
    django.setup()
    ready = {"pid": os.getpid(), "port": httpd.server_port, "base_url": base_url} | prepare(base_url)
    httpd.set_app(get_wsgi_application())
    temporary = data_dir / ".ready.json.tmp"
    temporary.write_text(json.dumps(ready, indent=2))
    os.replace(temporary, data_dir / "ready.json")
    print(f"{description}: serving at {base_url}; details in {data_dir / 'ready.json'}", file=sys.stderr, flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
