"""A fake Hugging Face hub on 127.0.0.1: serves files from a dict, the way hf_hub_download asks.

Only the resolve route is implemented: HEAD/GET /{repo_id}/resolve/{revision}/{filename}
with the headers huggingface_hub reads (commit hash, etag, size), and ranged GETs for resumed downloads.
`cut` makes a download stop half-way: for those files a GET announces the whole size, sends the bytes up to
the cut only and drops the connection (and a resumed GET past the cut gets dropped at once).
"""

from __future__ import annotations

import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, files: dict[tuple[str, str], bytes], cut: dict[tuple[str, str], int] | None = None):
        self.files = files
        self.cut = dict(cut or {})  # (repo, filename) -> bytes sent before the connection drops
        self.requests: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _key(self) -> tuple[str, str] | None:
                path = self.path.split("?")[0].lstrip("/")
                if "/resolve/" not in path:
                    return None
                repo, _, rest = path.partition("/resolve/")
                return repo, rest.partition("/")[2]

            def _find(self):
                hub.requests.append(f"{self.command} {self.path}")
                return hub.files.get(self._key())

            def _headers(self, body: bytes, start: int = 0):
                etag = hashlib.sha256(body).hexdigest()
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.send_header("Accept-Ranges", "bytes")
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

            def _drop(self):
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

            def do_GET(self):
                body = self._find()
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                # A resumed download asks for the rest only (Range: bytes=N-), as the real hub allows.
                ranged = self.headers.get("Range", "")
                start = int(ranged[6:].split("-")[0]) if ranged.startswith("bytes=") else 0
                cut = hub.cut.get(self._key())
                if cut is not None and start >= cut:  # the network is still down: nothing more arrives
                    self._drop()
                    return
                self._headers(body, start)
                if cut is not None:  # the network fails mid-download
                    self.wfile.write(body[start:cut])
                    self._drop()
                    return
                self.wfile.write(body[start:])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
