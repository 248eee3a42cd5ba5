"""A fake Hugging Face hub on 127.0.0.1: serves files from a dict, the way hf_hub_download asks.

Only the resolve route is implemented: HEAD/GET /{repo_id}/resolve/{revision}/{filename}
with the headers huggingface_hub reads (commit hash, etag, size).
"""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, files: dict[tuple[str, str], bytes]):
        self.files = files
        self.requests: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _find(self):
                hub.requests.append(f"{self.command} {self.path}")
                path = self.path.split("?")[0].lstrip("/")
                if "/resolve/" not in path:
                    return None
                repo, _, rest = path.partition("/resolve/")
                _rev, _, filename = rest.partition("/")
                return hub.files.get((repo, filename))

            def _headers(self, body: bytes):
                etag = hashlib.sha256(body).hexdigest()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", f'"{etag}"')
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()

            def do_HEAD(self):
                body = self._find()
                if body is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._headers(body)

            def do_GET(self):
                body = self._find()
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._headers(body)
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
