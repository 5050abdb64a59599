"""The `canteen` command as a user runs it: help, config errors, and `serve` and `demo` as real
processes answering over HTTP and stopping cleanly on a signal."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import httpx
import pytest

from canteen.cli import main
from core.config import load_config
from demo_broker.mosquitto import MosquittoProcess, free_port
from tests.conftest import EXAMPLES, Publisher
from tests.dashboard_api.accounts import token_in


def test_help_on_each_command(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["demo", "--help"], ["serve", "--help"], ["sim", "--help"]):
        with pytest.raises(SystemExit) as caught:
            main(argv)
        assert caught.value.code == 0
    out = capsys.readouterr().out
    assert "--speed" in out and "--broker" in out and "--listen" in out


def test_broken_config_exits_2_with_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("site:\n  id: s\n  name: S\nbuildings: []\n")
    assert main(["serve", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:4: buildings: " in err and "at least 1 item" in err


def start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "canteen", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_http(
    url: str,
    ready: object,
    proc: subprocess.Popen[str],
    timeout_s: float = 60,
    headers: dict[str, str] | None = None,
) -> object:
    """GET `url` until `ready(json)` is true; fail with the process output if it dies."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"process exited {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}"
            )
        try:
            last = httpx.get(url, timeout=2, headers=headers).json()
            if ready(last):  # type: ignore[operator]
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready in {timeout_s} s; last answer {last!r}")


class Output:
    """A process's output read as it comes, in a thread, so a test can wait for a line while
    the process runs and still see everything it printed."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self._lines: list[str] = []
        assert proc.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.append(line)

    def text(self) -> str:
        return "".join(list(self._lines))

    def wait_for(self, pattern: str, timeout_s: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text())
            if found is not None:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} not printed in {timeout_s} s: {self.text()}")


def demo_session(base: str, password: str, proc: subprocess.Popen[str]) -> dict[str, str]:
    """Log in as the demo's admin through the login form; the session cookie as a header."""
    wait_http(f"{base}/api/health", lambda body: True, proc)
    with httpx.Client(base_url=base, timeout=5) as client:
        form = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]*)"', form.text)
        assert csrf is not None, form.text
        answer = client.post(
            "/login", data={"name": "admin", "password": password, "csrf": csrf.group(1)}
        )
        assert answer.status_code in (200, 303), answer.text
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items())}


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> str:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    return out


def test_serve_stores_and_answers_then_stops_on_sigterm(
    tmp_path: Path, mosquitto: MosquittoProcess, publisher: Publisher
) -> None:
    port = free_port()
    config = tmp_path / "site.yaml"
    text = (EXAMPLES / "demo-school.yaml").read_text()
    config.write_text(text.replace("client_id: canteen-gateway-0", f"client_id: cli-{port}"))
    headers = token_in(tmp_path / "serve.duckdb")
    proc = start(
        [
            "serve",
            "--config",
            str(config),
            "--broker",
            mosquitto.url,
            "--db",
            str(tmp_path / "serve.duckdb"),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/api/health", lambda h: h["broker_connected"], proc)
        topic = "canteen/v1/sunshine-primary/freezer-1/telemetry"
        publisher.publish(topic, {"ts": int(time.time() * 1000), "seq": 1, "m": {"temp_c": -18.2}})
        publisher.publish(topic, b"not json")
        publisher.flush()
        latest = wait_http(
            f"{base}/api/devices/freezer-1/latest", lambda b: b["values"], proc, headers=headers
        )
        assert latest["values"][0]["value"] == -18.2  # type: ignore[index]
        health = wait_http(f"{base}/api/health", lambda h: h["dead_letters"] == 1, proc)
        assert health["dead_letters_by_reason"] == {"not_json": 1}  # type: ignore[index]
    finally:
        out = stop(proc)
    assert "canteen serve: site sunshine-primary" in out


def test_serve_refuses_a_busy_port(tmp_path: Path, mosquitto: MosquittoProcess) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = start(
            [
                "serve",
                "--config",
                str(EXAMPLES / "demo-school.yaml"),
                "--broker",
                mosquitto.url,
                "--db",
                str(tmp_path / "x.duckdb"),
                "--listen",
                f"127.0.0.1:{port}",
            ],
            tmp_path,
        )
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in out


# Filling the half hour of history competes with the live simulation for the CPU: on a loaded
# 2-core machine it has taken over a minute. A bound on readiness, not a speed assertion.
HISTORY_FILL_BOUND_S = 240


@pytest.mark.parametrize("broker", ["mosquitto", "embedded"])
def test_demo_shows_live_readings(tmp_path: Path, broker: str) -> None:
    port = free_port()
    db = tmp_path / "demo.duckdb"
    # A database left by an earlier run is set aside: this run starts afresh (README).
    token_in(db)
    proc = start(
        [
            "demo",
            "--listen",
            f"127.0.0.1:{port}",
            "--db",
            str(db),
            "--history-hours",
            "0.5",
            "--broker",
            broker,
        ],
        tmp_path,
    )
    output = Output(proc)
    base = f"http://127.0.0.1:{port}"
    try:
        printed = output.wait_for(r"log in as admin, password (\S+)")
        assert len(printed.group(1)) >= 12
        headers = demo_session(base, printed.group(1), proc)
        assert (tmp_path / "demo.previous.duckdb").exists()
        devices = wait_http(
            f"{base}/api/devices", lambda ds: all(d["online"] for d in ds), proc, headers=headers
        )
        demo = load_config(EXAMPLES / "demo-school.yaml")
        assert len(devices) == len(demo.devices)  # type: ignore[arg-type]
        for device in ("fridge-1", "freezer-1", "disinfect-1", "elec-canteen"):
            body = wait_http(
                f"{base}/api/devices/{device}/latest", lambda b: b["values"], proc, headers=headers
            )
            assert body["values"], device  # type: ignore[index]
        # Half an hour of history is filled in first: six 5-minute points once caught up.
        series = wait_http(
            f"{base}/api/devices/fridge-1/series?metric=temp_c&step=5m",
            lambda body: len(body["points"]) >= 6,
            proc,
            timeout_s=HISTORY_FILL_BOUND_S,
            headers=headers,
        )
        # A fridge's air, not its 8 °C limit: a defrost warms the air probe to 10-12 °C for a
        # few minutes (the simulator's fridge peaks at 11.7 °C), which is why the rules judge
        # the food estimate. A value outside this span would be a broken reading or unit.
        assert all(-2 <= p["value"] <= 13 for p in series["points"])  # type: ignore[index]
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0, output.text()
    out = output.text()
    assert "API docs" in out and "this run starts afresh" in out


def test_demo_refuses_the_port_its_own_notifications_arrive_at(tmp_path: Path) -> None:
    # Tried as a new user would: `--listen 127.0.0.1:8765` read "Address already in use" with
    # nothing else on the machine holding the port (the demo's own inbox had just bound it).
    proc = start(
        ["demo", "--db", str(tmp_path / "d.duckdb"), "--listen", "127.0.0.1:8765"], tmp_path
    )
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "the demo's notifications arrive at 127.0.0.1:8765" in out
    assert "--listen" in out
    assert not (tmp_path / "d.duckdb").exists()  # refused before anything started
