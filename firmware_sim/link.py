"""One MQTT session of the simulator (a device of its own or a bridge), aiomqtt kept inside
this module.

A session connects with a fixed client id and a Last Will of its retained `offline` presence, so
the broker announces a connection that vanishes; after connecting it publishes its retained
`online`. A clean stop publishes its `last_words` (a bridge: each member's `offline`) and then
its own `offline` before disconnecting. `drop` ends the connection the way a power cut does: no
DISCONNECT packet, so the broker publishes the will.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiomqtt

from firmware_sim.errors import LinkDownError
from firmware_sim.wire import Message, Presence

__all__ = ["BrokerAddress", "DeviceLink"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    keepalive_s: int = 30
    # How long a publish may wait for the broker's acknowledgement before the link counts as down.
    timeout_s: float = 10.0


class DeviceLink:
    """Use as `async with DeviceLink(...) as link:`; leaving the block disconnects cleanly
    (last words and retained `offline` first) unless the link was dropped or lost."""

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str,
        presence: Presence,
        *,
        last_words: Callable[[], Sequence[Message]] | None = None,
    ) -> None:
        self._address = address
        self._client_id = client_id
        self._presence = presence
        self._last_words = last_words
        self._client: aiomqtt.Client | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._lost_reason = "connection lost"
        self._dropped = False

    async def __aenter__(self) -> DeviceLink:
        if self._client is not None:
            raise RuntimeError(f"{self._client_id}: the link is already open")
        client = self._new_client()
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as exc:
            a = self._address
            raise LinkDownError(f"cannot connect to {a.host}:{a.port}: {exc}") from None
        self._client = client
        self._watcher = asyncio.create_task(self._watch(client), name=f"{self._client_id}:watch")
        try:
            await self.publish(self._presence.topic, self._presence.online, retain=True)
        except BaseException as exc:  # also a cancellation: do not leave the client connected
            await self.__aexit__(type(exc), exc, None)
            raise
        return self

    def _new_client(self) -> aiomqtt.Client:
        a = self._address
        return aiomqtt.Client(
            a.host,
            a.port,
            identifier=self._client_id,
            username=a.username,
            password=a.password,
            keepalive=a.keepalive_s,
            timeout=a.timeout_s,
            will=aiomqtt.Will(self._presence.topic, self._presence.offline, qos=1, retain=True),
        )

    async def __aexit__(self, *exc_info: object) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        if self._dropped or self._lost.is_set():
            # Nothing more can be sent; wait (briefly) until aiomqtt has noticed the end, so the
            # watcher collects its disconnect error instead of leaving it unretrieved.
            await self._stop_watcher(wait_s=2.0)
            return
        await self._stop_watcher(wait_s=0.0)
        try:
            async with asyncio.timeout(self._address.timeout_s):
                if not isinstance(exc_info[1], LinkDownError):
                    await self._say_goodbye(client)
                await client.__aexit__(None, None, None)
        except (aiomqtt.MqttError, TimeoutError) as exc:
            log.info("%s: no clean disconnect (%s)", self._client_id, exc)

    async def _say_goodbye(self, client: aiomqtt.Client) -> None:
        words = list(self._last_words()) if self._last_words is not None else []
        for topic, payload in words:
            await client.publish(topic, payload, qos=1, retain=True)
        await client.publish(self._presence.topic, self._presence.offline, qos=1, retain=True)

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1 and wait for the broker's acknowledgement."""
        if self._client is None or self._lost.is_set():
            raise LinkDownError(self._lost_reason if self._client else "the link is not open")
        try:
            await self._client.publish(topic, payload, qos=1, retain=retain)
        except aiomqtt.MqttError as exc:
            raise LinkDownError(f"publish to {topic} failed: {exc}") from None
        _raise_if_cancelling()

    async def idle_until(self, event: asyncio.Event) -> None:
        """Wait for `event`; raises `LinkDownError` as soon as the connection is lost instead,
        so a device notices a broker restart without waiting for its next reading."""
        _raise_if_cancelling()
        waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(self._lost.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if self._lost.is_set():
            raise LinkDownError(self._lost_reason)

    def drop(self) -> None:
        """Cut the connection without a DISCONNECT packet, as a power cut would."""
        self._dropped = True
        if self._client is None:
            return
        # aiomqtt has no way to close without DISCONNECT, so reach its paho client (`_client`,
        # private) for the socket. shutdown() rather than close(): the event loop still watches
        # the file descriptor; paho sees the end of stream and cleans up through its own path.
        sock = self._client._client.socket()
        if isinstance(sock, socket.socket):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError as exc:  # already gone: the broker has noticed or will
                log.debug("%s: socket already closed (%s)", self._client_id, exc)

    async def _watch(self, client: aiomqtt.Client) -> None:
        # The device subscribes to nothing, so this iteration yields no message: it ends, with
        # aiomqtt's disconnect error, exactly when the connection does.
        try:
            async for _ in client.messages:
                pass
        except aiomqtt.MqttError as exc:
            self._lost_reason = f"connection lost: {exc.__cause__ or exc}"
        self._lost.set()

    async def _stop_watcher(self, wait_s: float) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is None:
            return
        if wait_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(watcher), wait_s)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


def _raise_if_cancelling() -> None:
    # Python 3.11's asyncio.wait_for, which aiomqtt awaits acknowledgements with, swallows a
    # cancellation that arrives together with the result (CPython gh-86296). Re-raise it, or
    # stopping the fleet could leave a device idling forever.
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
