"""The system's `mosquitto` as the demo and the tests start it: a child process on a free
loopback port with a generated config tuned for the gateway's QoS 1 session."""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = [
    "AUTOSAVE_INTERVAL_S",
    "UNSAVED_WINDOW_S",
    "MosquittoProcess",
    "find_mosquitto",
    "free_port",
    "mosquitto_config",
]

log = logging.getLogger(__name__)

# Mosquitto keeps sessions and queued messages in memory and writes them to its persistence file
# only on a save: by default every 1800 s, so a crash, `kill -9` or power cut could lose half an
# hour of readings it had already acknowledged to the devices (PUBACK) but not yet delivered to
# the gateway. Saving by time bounds that window; a save rewrites and fsyncs the whole in-memory
# database and the broker serves no one meanwhile, so its cost grows with the backlog (see the
# README, Operations). Every 5 s costs next to nothing while the gateway keeps up (the queue is
# near empty); a backlog of 100,000 readings is 16 MB and about 50 ms per save on a local disk.
AUTOSAVE_INTERVAL_S = 5

# How far back a broker crash can reach: a message is safe once a save has run after the broker
# acknowledged it. Saves come when the broker's whole-second clock has passed the interval since
# the last one (`last_backup + autosave_interval < now`, mosquitto 2.0 src/loop.c), checked at
# least every 0.1 s (its epoll timeout): at most interval + 1.1 s apart, plus the save itself.
UNSAVED_WINDOW_S = AUTOSAVE_INTERVAL_S + 1.1


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def find_mosquitto() -> str | None:
    """The mosquitto binary; Debian installs it in /usr/sbin, which a user's PATH may lack."""
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def mosquitto_config(
    port: int, data_dir: Path, *, persistence: bool = True, user: str | None = None
) -> str:
    """A broker config for one loopback listener, tuned for the gateway's QoS 1 session.
    `user`: whom mosquitto runs as when started by root (it must be able to write `data_dir`)."""
    return "\n".join(
        [
            f"listener {port} 127.0.0.1",
            *([f"user {user}"] if user else []),
            "allow_anonymous true",
            # The gateway acknowledges a message only once its batch is stored, so the broker
            # must let many messages be in flight (default 20) or batches stay tiny.
            "max_inflight_messages 10000",
            # A persistent session keeps messages while the gateway restarts; the default
            # (1000) would drop the rest of a busy site's backlog.
            "max_queued_messages 1000000",
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {data_dir}/",
            # Save by time, not per change: with autosave_on_changes true the interval counts
            # queued messages, and each save rewrites the whole backlog, so saving every few
            # messages costs the square of the backlog. See AUTOSAVE_INTERVAL_S for the choice.
            f"autosave_interval {AUTOSAVE_INTERVAL_S}",
            "autosave_on_changes false",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "",
        ]
    )


class MosquittoProcess:
    """A real mosquitto on 127.0.0.1 with its own config; stop() ends it and removes its files.

    kill() ends it the way a crash or power cut does (SIGKILL, no final save) and keeps its
    persistence directory; start() again then brings it back on the same port with what it had
    saved, as a broker restarted by systemd would.
    """

    def __init__(self, binary: str | None = None, port: int | None = None) -> None:
        found = binary or find_mosquitto()
        if found is None:
            raise FileNotFoundError(
                "mosquitto is not installed; on Debian/Ubuntu: sudo apt-get install mosquitto"
            )
        self.binary = found
        self.port = port or free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="canteen-mosquitto-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def persistence_file(self) -> Path:
        """Where the broker saves sessions and queued messages (mosquitto's default name)."""
        return self._dir / "mosquitto.db"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout_s: float = 10.0) -> MosquittoProcess:
        if self.running:
            raise RuntimeError(f"mosquitto is already running on port {self.port}")
        conf = self._dir / "mosquitto.conf"
        # Started by root, mosquitto drops to the user `mosquitto`, which cannot write our
        # private temp dir: every save would fail (logged, nothing else). Run as whoever we are.
        owner = pwd.getpwuid(os.geteuid()).pw_name
        conf.write_text(mosquitto_config(self.port, self._dir, user=owner))
        # Appended, so the log of a broker that was killed survives its restart.
        with (self._dir / "mosquitto.log").open("ab") as log_file:
            # Its own session: Ctrl-C in a terminal must not kill the broker before the
            # simulated devices and the gateway have said goodbye; stop() ends it last.
            self._proc = subprocess.Popen(
                [self.binary, "-c", str(conf)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited at start: {self.log_text()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on port {self.port} within {timeout_s} s")

    def log_text(self) -> str:
        path = self._dir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no final save, the persistence file stays as the last autosave left it."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> MosquittoProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
