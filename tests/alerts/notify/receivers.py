"""Real local receivers for the channel tests.

`RobotReceiver` is one stdlib HTTP server on 127.0.0.1 playing the WeCom, DingTalk and Feishu
robots and a generic webhook. It checks each request the way the vendor documents it (path,
key or token, message shape, byte limits, and the signature recomputed from the shared
secret), answers with the vendor's own codes, records every request with the problems it found,
and can be scripted to fail (any status, headers and JSON body) for the next requests.

`MailReceiver` is aiosmtpd on a free port: plain, STARTTLS (required) with login, or implicit
TLS, with a self-signed certificate made by the openssl command line.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import ssl
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer  # noqa: N811 (aiosmtpd's own name)
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

WECOM_KEY = "wecom-key-0123"
DINGTALK_TOKEN = "ding-token-4567"
DINGTALK_SECRET = "SECdingtalk-secret-89ab"
FEISHU_TOKEN = "feishu-hook-cdef"
FEISHU_SECRET = "feishu-secret-0246"
WEBHOOK_SECRET = "webhook-secret-1357"


@dataclass
class Recorded:
    """One request as received, and what the receiver found wrong with it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    data: Any
    raw_query: str = ""
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Scripted:
    """A reply the test asked for instead of the normal one."""

    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # answer this late (a receiver that hangs)
    release: threading.Event | None = None  # answer once it is set (at most 60 s later)


def wecom_check(rec: Recorded) -> dict[str, Any]:
    if rec.query.get("key") != WECOM_KEY:
        return {"errcode": 93000, "errmsg": "invalid webhook url"}
    kind = rec.data.get("msgtype") if isinstance(rec.data, dict) else None
    limits = {"text": 2048, "markdown": 4096}
    if kind not in limits:
        rec.problems.append(f"msgtype {kind!r}")
        return {"errcode": 40008, "errmsg": "invalid message type"}
    content = rec.data[kind].get("content")
    if not isinstance(content, str) or len(content.encode()) > limits[kind]:
        rec.problems.append(f"{kind}.content missing or over {limits[kind]} bytes")
        return {"errcode": 40058, "errmsg": f"{kind}.content exceed max length"}
    return {"errcode": 0, "errmsg": "ok"}


def dingtalk_check(rec: Recorded, now: datetime) -> dict[str, Any]:
    timestamp, sign = rec.query.get("timestamp", ""), rec.query.get("sign", "")
    to_sign = f"{timestamp}\n{DINGTALK_SECRET}".encode()
    digest = hmac.new(DINGTALK_SECRET.encode(), to_sign, hashlib.sha256).digest()
    if rec.query.get("access_token") != DINGTALK_TOKEN or sign != base64.b64encode(digest).decode():
        rec.problems.append("sign not match")
        return {"errcode": 310000, "errmsg": "sign not match"}
    if abs(int(timestamp) - now.timestamp() * 1000) > 3600_000:
        rec.problems.append("timestamp more than an hour off")
        return {"errcode": 310000, "errmsg": "timestamp invalid"}
    data = rec.data
    kind = data.get("msgtype")
    ok = (kind == "text" and isinstance(data["text"].get("content"), str)) or (
        kind == "markdown"
        and isinstance(data["markdown"].get("title"), str)
        and isinstance(data["markdown"].get("text"), str)
    )
    if not ok:
        rec.problems.append(f"bad shape for msgtype {kind!r}")
        return {"errcode": 40035, "errmsg": "missing parameter"}
    return {"errcode": 0, "errmsg": "ok"}


def feishu_check(rec: Recorded, now: datetime) -> dict[str, Any]:
    if rec.path != f"/open-apis/bot/v2/hook/{FEISHU_TOKEN}":
        rec.problems.append("unknown hook token")
        return {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}
    if len(rec.body) > 20 * 1024:
        rec.problems.append("body over 20 KB")
        return {"code": 9499, "msg": "Bad Request"}
    data = rec.data
    timestamp = str(data.get("timestamp", ""))
    key = f"{timestamp}\n{FEISHU_SECRET}".encode()
    expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    if data.get("sign") != expected or abs(int(timestamp or 0) - now.timestamp()) > 3600:
        rec.problems.append("sign match fail or timestamp out of the hour")
        return {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}
    kind = data.get("msg_type")
    ok = (kind == "text" and isinstance(data.get("content", {}).get("text"), str)) or (
        kind == "interactive"
        and isinstance(data.get("card", {}).get("header", {}).get("title", {}).get("content"), str)
        and data["card"]["elements"][0]["text"]["tag"] == "lark_md"
    )
    if not ok:
        rec.problems.append(f"bad shape for msg_type {kind!r}")
        return {"code": 9499, "msg": "Bad Request"}
    return {"code": 0, "msg": "success", "data": {}}


def webhook_check(rec: Recorded) -> tuple[int, dict[str, Any]]:
    expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), rec.body, hashlib.sha256).hexdigest()
    if rec.headers.get("x-canteen-signature") != expected:
        rec.problems.append("signature does not match the body")
        return 401, {"error": "bad signature"}
    if rec.headers.get("idempotency-key") != rec.data.get("key"):
        rec.problems.append("Idempotency-Key header differs from the body's key")
        return 400, {"error": "key mismatch"}
    return 200, {"received": rec.data["key"]}


class RobotReceiver:
    """The robots and a webhook on one loopback port; `now` is the test's clock."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self.requests: list[Recorded] = []
        self.script: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> RobotReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def fail_next(self, *replies: Scripted) -> None:
        self.script.extend(replies)

    def received(self, path_prefix: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    def answer(self, rec: Recorded) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self.requests.append(rec)
            scripted = self.script.popleft() if self.script else None
        if rec.path == "/cgi-bin/webhook/send":
            status, body = 200, wecom_check(rec)
        elif rec.path == "/robot/send":
            status, body = 200, dingtalk_check(rec, self.now())
        elif rec.path.startswith("/open-apis/bot/v2/hook/"):
            status, body = 200, feishu_check(rec, self.now())
        elif rec.path == "/hook":
            status, body = webhook_check(rec)
        else:
            status, body = 404, {"error": "no such path"}
        if scripted is not None:
            time.sleep(scripted.delay_s)
            if scripted.release is not None:
                scripted.release.wait(60)
            return scripted.status, scripted.body or {}, scripted.headers
        return status, body, {}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                try:
                    data = json.loads(body)
                except ValueError:
                    data = None
                headers = {k.lower(): v for k, v in self.headers.items()}
                rec = Recorded(parts.path, query, headers, body, data, parts.query)
                if "application/json" not in headers.get("content-type", ""):
                    rec.problems.append("Content-Type is not JSON")
                status, reply, extra = receiver.answer(rec)
                raw = json.dumps(reply).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout test): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return cast(int, sock.getsockname()[1])


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost and its key, made by openssl."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass
class MailHandler:
    """Keeps every accepted message; refuses recipients listed in `refuse` with 550."""

    messages: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTPServer, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        parsed = message_from_bytes(raw, policy=policy.default)
        self.messages.append((envelope, parsed))
        return "250 Message accepted"


def authenticator(user: str, password: str) -> Callable[..., AuthResult]:
    def check(
        server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == user.encode()
            and data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False)  # False: the server replies 535

    return check


class MailReceiver:
    """aiosmtpd in its own thread: `mode` plain, starttls (required, with login) or ssl."""

    def __init__(
        self, mode: str, cert: tuple[Path, Path] | None, user: str = "", password: str = ""
    ):
        self.handler = MailHandler()
        self.port = free_port()
        context = None
        if cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(cert[0]), str(cert[1]))
        kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": self.port}
        if mode == "starttls":
            kwargs |= {"tls_context": context, "require_starttls": True}
        if mode == "ssl":
            kwargs |= {"ssl_context": context}
        if user:
            kwargs |= {"authenticator": authenticator(user, password), "auth_required": True}
        self.controller = Controller(self.handler, **kwargs)

    def __enter__(self) -> MailReceiver:
        self.controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.controller.stop()
