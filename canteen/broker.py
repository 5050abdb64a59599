"""Brokers the demo and the tests start: the system's `mosquitto` on a free loopback port with a
generated config, or, where it is not installed, the in-process `EmbeddedBroker`."""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["MosquittoProcess", "find_mosquitto", "free_port", "mosquitto_config"]

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def find_mosquitto() -> str | None:
    """The mosquitto binary; Debian installs it in /usr/sbin, which a user's PATH may lack."""
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def mosquitto_config(port: int, data_dir: Path, *, persistence: bool = True) -> str:
    """A broker config for one loopback listener, tuned for the gateway's QoS 1 session."""
    return "\n".join(
        [
            f"listener {port} 127.0.0.1",
            "allow_anonymous true",
            # The gateway acknowledges a message only once its batch is stored, so the broker
            # must let many messages be in flight (default 20) or batches stay tiny.
            "max_inflight_messages 10000",
            # A persistent session keeps messages while the gateway restarts; the default
            # (1000) would drop the rest of a busy site's backlog.
            "max_queued_messages 1000000",
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {data_dir}/",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "",
        ]
    )


class MosquittoProcess:
    """A real mosquitto on 127.0.0.1 with its own config; stop() ends it and removes its files."""

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

    def start(self, timeout_s: float = 10.0) -> MosquittoProcess:
        conf = self._dir / "mosquitto.conf"
        conf.write_text(mosquitto_config(self.port, self._dir))
        log_file = (self._dir / "mosquitto.log").open("wb")
        # Its own session: Ctrl-C in a terminal must not kill the broker before the simulated
        # devices and the gateway have said goodbye; stop() ends it last.
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
