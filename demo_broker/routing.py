"""Routing state of the embedded broker: topic matching, sessions and the subscription index.

No I/O here: a session's connection is anything shaped like `SessionLink`, so the
broker's asyncio protocol plugs in and the routing can be read on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Protocol

__all__ = [
    "MAX_QUEUED_MESSAGES",
    "MAX_RETAINED",
    "MAX_SESSIONS",
    "MAX_SESSION_BYTES",
    "Message",
    "Router",
    "Session",
    "SessionLink",
    "TooManySessionsError",
    "topic_matches",
    "valid_topic_filter",
]

log = logging.getLogger(__name__)

# Bounds, so that no client can make the broker grow without limit (it is a demo convenience
# and has no authentication). A demo school has a few dozen devices and one gateway session.
MAX_SESSIONS = 1_000  # clean and persistent; a new client id beyond this is refused
MAX_QUEUED_MESSAGES = 100_000  # per session, behind the in-flight window (oldest dropped)
# Per session, the queued and the in-flight (sent, not yet acknowledged) messages together; the
# count alone would allow 100,000 messages of the 2 MiB maximum packet size.
MAX_SESSION_BYTES = 64 * 1024 * 1024
MAX_RETAINED = 10_000  # retained topics; beyond this a new topic is delivered but not retained


class TooManySessionsError(Exception):
    """A new client id arrived while the broker holds `MAX_SESSIONS` sessions."""


class SessionLink(Protocol):
    """What a session needs of the connection currently bound to it."""

    lost: asyncio.Future[None]  # done once the socket is closed

    def close(self, reason: str, *, publish_will: bool = True, abort: bool = False) -> None: ...

    def schedule_flush(self) -> None: ...


def valid_topic_filter(topic_filter: str) -> bool:
    """Section 4.7.1: ``#`` only as a whole last level, ``+`` only as a whole level."""
    if not topic_filter:
        return False
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def topic_matches(filter_levels: list[str], topic_levels: list[str]) -> bool:
    """Whether a filter matches a topic, both already split on ``/``."""
    # Section 4.7.2: a leading wildcard never matches a topic starting with "$".
    if topic_levels[0].startswith("$") and filter_levels[0] in ("+", "#"):
        return False
    for i, level in enumerate(filter_levels):
        if level == "#":
            return True  # also matches the parent level: "a/#" matches "a"
        if i >= len(topic_levels) or (level != "+" and level != topic_levels[i]):
            return False
    return len(filter_levels) == len(topic_levels)


class Message:
    """An application message as published (the retain flag travels separately)."""

    __slots__ = ("payload", "qos", "size", "topic", "topic_field")

    def __init__(self, topic: str, topic_field: bytes, payload: bytes, qos: int) -> None:
        self.topic = topic
        self.topic_field = topic_field  # length-prefixed wire form, reused for every subscriber
        self.payload = payload
        self.qos = qos
        self.size = len(topic_field) + len(payload)  # what a session holding it counts


class Session:
    """Per-client-id state; outlives its connection when clean_session=0."""

    def __init__(self, client_id: str, clean: bool) -> None:
        self.client_id = client_id
        self.clean = clean
        self.subscriptions: dict[str, int] = {}  # filter -> granted QoS
        self.queue: deque[tuple[Message, int, bool]] = deque()  # (message, qos, retain)
        self.inflight: dict[int, tuple[Message, bool]] = {}  # sent QoS 1, awaiting PUBACK
        self.awaiting_rel: set[int] = set()  # inbound QoS 2 ids between PUBREC and PUBREL
        self.next_packet_id = 0
        self.dropped = 0
        self.held_bytes = 0  # sizes of the queued and in-flight messages
        self.conn: SessionLink | None = None

    def enqueue(self, msg: Message, qos: int, retain: bool) -> None:
        if self.conn is None and qos == 0:
            return  # QoS 0 is not stored for offline clients (section 3.1.2.4 allows this)
        self.queue.append((msg, qos, retain))
        self.held_bytes += msg.size
        while self.queue and (
            len(self.queue) > MAX_QUEUED_MESSAGES or self.held_bytes > MAX_SESSION_BYTES
        ):
            self._drop_oldest()
        if self.conn is not None and self.queue:
            self.conn.schedule_flush()

    def _drop_oldest(self) -> None:
        self.held_bytes -= self.queue.popleft()[0].size
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 10_000 == 0:
            log.warning(
                "client %s is not keeping up: queue full (%d messages or %d bytes), dropped %d "
                "oldest message(s)",
                self.client_id,
                MAX_QUEUED_MESSAGES,
                MAX_SESSION_BYTES,
                self.dropped,
            )

    def next_to_send(self) -> tuple[Message, int, bool]:
        """Take the oldest queued message; a QoS 1 one stays held until its PUBACK."""
        msg, qos, retain = self.queue.popleft()
        if not qos:
            self.held_bytes -= msg.size
        return msg, qos, retain

    def acknowledged(self, packet_id: int) -> bool:
        """PUBACK of an in-flight message; False if the id is not in flight."""
        entry = self.inflight.pop(packet_id, None)
        if entry is None:
            return False
        self.held_bytes -= entry[0].size
        return True

    def keep_qos1_only(self) -> None:
        """Offline: QoS 0 messages are not kept (see `enqueue`)."""
        dropped = sum(msg.size for msg, qos, _ in self.queue if not qos)
        self.queue = deque(item for item in self.queue if item[1])
        self.held_bytes -= dropped

    def allocate_packet_id(self) -> int:
        while True:  # terminates quickly: at most INFLIGHT_WINDOW of 65535 ids are taken
            self.next_packet_id = self.next_packet_id % 0xFFFF + 1
            if self.next_packet_id not in self.inflight:
                return self.next_packet_id


class Router:
    """Broker-wide state: sessions, the subscription index and retained messages."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.connections: set[SessionLink] = set()
        self.retained: dict[str, Message] = {}
        # Filters without wildcards are found by one dict lookup; only wildcard filters are
        # matched one by one. Values map client id -> granted QoS.
        self._exact: dict[str, dict[str, int]] = {}
        self._wild: dict[str, tuple[list[str], dict[str, int]]] = {}

    def publish(self, msg: Message, retain: bool) -> None:
        if retain:
            self._retain(msg)
        targets = self._exact.get(msg.topic)
        if self._wild:
            targets = dict(targets) if targets else {}
            levels = msg.topic.split("/")
            for filter_levels, subscribers in self._wild.values():
                if topic_matches(filter_levels, levels):
                    # Overlapping subscriptions: deliver once, at the highest granted QoS.
                    for client_id, qos in subscribers.items():
                        if qos > targets.get(client_id, -1):
                            targets[client_id] = qos
        if targets:
            sessions = self.sessions
            for client_id, qos in targets.items():
                # Forwarded messages carry retain=0 (section 3.3.1.3).
                sessions[client_id].enqueue(msg, min(qos, msg.qos), False)

    def _retain(self, msg: Message) -> None:
        if not msg.payload:
            self.retained.pop(msg.topic, None)  # empty retained payload clears the topic
        elif msg.topic in self.retained or len(self.retained) < MAX_RETAINED:
            self.retained[msg.topic] = msg
        else:
            log.warning(
                "not retaining %s: the broker already retains %d topics", msg.topic, MAX_RETAINED
            )

    def subscribe(self, session: Session, topic_filter: str, qos: int) -> None:
        session.subscriptions[topic_filter] = qos
        if "+" in topic_filter or "#" in topic_filter:
            entry = self._wild.setdefault(topic_filter, (topic_filter.split("/"), {}))
            entry[1][session.client_id] = qos
        else:
            self._exact.setdefault(topic_filter, {})[session.client_id] = qos
        levels = topic_filter.split("/")
        for topic, msg in self.retained.items():
            if topic_matches(levels, topic.split("/")):
                session.enqueue(msg, min(qos, msg.qos), True)

    def unsubscribe(self, session: Session, topic_filter: str) -> None:
        if session.subscriptions.pop(topic_filter, None) is None:
            return
        wild = self._wild.get(topic_filter)
        subscribers = wild[1] if wild else self._exact.get(topic_filter, {})
        subscribers.pop(session.client_id, None)
        if not subscribers:
            self._wild.pop(topic_filter, None)
            self._exact.pop(topic_filter, None)

    def attach(self, conn: SessionLink, client_id: str, clean: bool) -> tuple[Session, bool]:
        """Bind ``conn`` to the session for ``client_id``; return it and "session present".
        TooManySessionsError: a new client id while `MAX_SESSIONS` are held."""
        session = self.sessions.get(client_id)
        if session is None and len(self.sessions) >= MAX_SESSIONS:
            raise TooManySessionsError(f"the broker holds {MAX_SESSIONS} sessions already")
        if session is not None and session.conn is not None:
            # Section 3.1.4: take-over. The old connection ends without DISCONNECT, so its
            # will is published; a clean old session disappears with it.
            log.info("client id %s connected again: closing its previous connection", client_id)
            session.conn.close("session taken over", abort=True)
            session = self.sessions.get(client_id)
        if session is not None and clean:
            self.discard(session)
            session = None
        present = session is not None
        if session is None:
            session = self.sessions[client_id] = Session(client_id, clean)
        session.conn = conn
        return session, present

    def detach(self, conn: SessionLink, session: Session) -> None:
        if session.conn is not conn:
            return  # already taken over by a newer connection
        session.conn = None
        if session.clean:
            self.discard(session)
        elif session.queue:
            session.keep_qos1_only()

    def discard(self, session: Session) -> None:
        for topic_filter in list(session.subscriptions):
            self.unsubscribe(session, topic_filter)
        if self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]
