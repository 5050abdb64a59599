"""The webhook receiver of the alert benches: a stdlib HTTP server on loopback that the bench's
site config routes every alert to, noting when the first `fired` (or digest) notice naming each
device arrived (`time.perf_counter()` and the wall clock, to set beside the service's stamps)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Receiver"]


class Receiver:
    """Records when the first `fired` notice naming each device arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.arrived_wall: dict[str, float] = {}  # time.time(), to compare with the service's
        self.requests = 0
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait(self, device: str, timeout_s: float) -> float | None:
        with self._changed:
            self._changed.wait_for(lambda: device in self.arrived, timeout_s)
            return self.arrived.get(device)

    def _record(self, body: bytes) -> None:
        at, wall = time.perf_counter(), time.time()
        data = json.loads(body)
        with self._changed:
            self.requests += 1
            if data.get("kind") in ("fired", "digest"):
                for alert in data.get("alerts", []):
                    self.arrived.setdefault(str(alert.get("device")), at)
                    self.arrived_wall.setdefault(str(alert.get("device")), wall)
            self._changed.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver._record(body)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
