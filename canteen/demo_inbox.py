"""The demo's notification inbox: a small HTTP receiver on the loopback address that the demo
config's webhook channel points at, so `make demo` shows each notification as it is delivered
(one line on the console) instead of retrying into a port where nothing listens.

Demo only: it listens on 127.0.0.1, reads one bounded JSON body per connection and answers
200; a real site points its channels at WeCom, DingTalk, Feishu, e-mail or its own receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from core.config import SiteConfig
from core.notify_channels import WebhookConfig

__all__ = ["demo_inbox", "inbox_ports"]

log = logging.getLogger(__name__)

_MAX_BODY = 1 << 20  # a digest of many alerts is a few kB; anything larger is not ours
_LOOPBACK = {"127.0.0.1", "localhost"}


def inbox_ports(config: SiteConfig) -> list[int]:
    """Ports of the loopback webhook channels the config names (the demo's own inbox)."""
    ports: set[int] = set()
    for channel in config.notify.channels.values():
        if isinstance(channel, WebhookConfig):
            url = urlsplit(str(channel.url))
            if url.hostname in _LOOPBACK and url.port:
                ports.add(url.port)
    return sorted(ports)


@contextlib.asynccontextmanager
async def demo_inbox(config: SiteConfig) -> AsyncIterator[list[int]]:
    """Listens on each loopback webhook port of the config while the demo runs; a port already
    taken is logged and skipped (the notices to it are retried by the outbox, as on a site)."""
    servers: list[asyncio.Server] = []
    for port in inbox_ports(config):
        try:
            servers.append(await asyncio.start_server(_receive, "127.0.0.1", port))
        except OSError as exc:
            log.warning("demo inbox: cannot listen on 127.0.0.1:%d (%s)", port, exc.strerror)
    try:
        yield [s.sockets[0].getsockname()[1] for s in servers]
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()


async def _receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        body = await asyncio.wait_for(_request_body(reader), timeout=10)
        status = "200 OK" if body is not None else "400 Bad Request"
        if body is not None:
            _show(body)
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
    except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass  # a client that went away or sent nonsense: nothing to show
    finally:
        writer.close()


async def _request_body(reader: asyncio.StreamReader) -> bytes | None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if not 0 < length <= _MAX_BODY:
        return None
    return await reader.readexactly(length)


def _show(body: bytes) -> None:
    try:
        notice = json.loads(body)
        line = f"{notice.get('title', '')} → {', '.join(notice.get('recipients', []))}"
    except (ValueError, AttributeError, TypeError):
        line = body[:200].decode("utf-8", "replace")
    print(f"[notification] {line}", flush=True)
