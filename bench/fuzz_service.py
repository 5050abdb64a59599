"""`canteen serve` as the fuzz benchmark runs it: a child process watched from a thread and
started again (same config, same database) each time it exits, up to a bound, so that a crash
loop shows as many crashes instead of hanging the bench. A second thread polls `/api/health`;
the memory of the process and its children is sampled for the peak.

Health counters live in the process, so each lifetime starts them at zero: the figures of a
run are the sums over lifetimes of the last answer each gave (a lifetime that crashed between
two polls is counted as of its last answer)."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.backlog import BenchError

__all__ = ["Crash", "ServiceUnderTest"]

WATCH_S = 0.05  # process and memory sampling
HEALTH_S = 0.5
HEALTH_TIMEOUT_S = 2.0  # a wedged event loop answers late or never
START_TIMEOUT_S = 60.0
RESTART_DELAY_S = 0.2
STOP_TIMEOUT_S = 20.0
# The innermost exception of a traceback, also inside an ExceptionGroup's "| " frames.
_EXCEPTION_LINE = re.compile(
    r"^[\s|+\-]*([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)): ?(.*)"
)


_SUMMED = (
    "messages_received",
    "messages_acknowledged",
    "readings_stored",
    "dead_letters",
    "store_retries",
)


@dataclass(frozen=True, slots=True)
class Crash:
    lifetime: int
    exit_code: int
    uptime_s: float
    reason: str


class ServiceUnderTest:
    def __init__(
        self,
        command: list[str],
        api_url: str,
        log_dir: Path,
        max_restarts: int,
        say: Callable[[str], None],
        *,
        cwd: Path | None = None,
    ) -> None:
        self._command = command
        self._cwd = cwd  # `python -m canteen` imports the packages of its working directory
        self._health_url = f"{api_url}/api/health"
        self._log_dir = log_dir
        self._max_restarts = max_restarts
        self._say = say
        self._proc: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._lifetime = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._health: dict[int, dict[str, Any]] = {}
        self._threads: list[threading.Thread] = []
        self.crashes: list[Crash] = []
        self.gave_up = False
        self.peak_rss_bytes = 0

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the first lifetime and wait until it answers healthy (broker connected)."""
        self._spawn()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._healthy_now():
            proc = self._proc
            if proc is not None and proc.poll() is not None:
                raise BenchError(f"canteen serve exited at start: {self._reason(proc)}")
            if time.monotonic() > deadline:
                raise BenchError(f"canteen serve not healthy within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.1)
        for target, name in ((self._watch, "fuzz-watch"), (self._poll_health, "fuzz-health")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join()
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # the service shuts down in order on SIGTERM
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._say(f"canteen serve did not stop within {STOP_TIMEOUT_S:.0f} s: killed")
            proc.kill()
            proc.wait()

    @property
    def alive(self) -> bool:
        proc = self._proc
        return proc is not None and proc.poll() is None

    @property
    def lifetimes(self) -> int:
        return self._lifetime

    # -- what the run reads ----------------------------------------------------------------------

    def totals(self) -> dict[str, Any]:
        """Counters summed over lifetimes (module docstring), and the last answer's own."""
        with self._lock:
            answers = [self._health[k] for k in sorted(self._health)]
        summed = dict.fromkeys(_SUMMED, 0)
        reasons: Counter[str] = Counter()
        for answer in answers:
            for key in _SUMMED:
                summed[key] += int(answer.get(key, 0))
            reasons.update(answer.get("dead_letters_by_reason", {}))
        last = answers[-1] if answers else {}
        return {**summed, "dead_letters_by_reason": dict(reasons), "last": last}

    # -- the threads -----------------------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_S):
            proc = self._proc
            if proc is None:
                continue
            if proc.poll() is None:
                self._sample_rss(proc.pid)
                continue
            if self.gave_up:
                continue
            self._crashed(proc)

    def _crashed(self, proc: subprocess.Popen[bytes]) -> None:
        uptime = time.monotonic() - self._started_at
        crash = Crash(self._lifetime, proc.returncode, round(uptime, 1), self._reason(proc))
        self.crashes.append(crash)
        self._say(
            f"  crash {len(self.crashes)}: canteen serve exited ({crash.exit_code}) after "
            f"{crash.uptime_s} s: {crash.reason}"
        )
        if len(self.crashes) > self._max_restarts:
            self.gave_up = True
            self._say(f"  not restarting after {self._max_restarts} restarts (--max-restarts)")
            return
        time.sleep(RESTART_DELAY_S)
        self._spawn()

    def _poll_health(self) -> None:
        while not self._stopping.wait(HEALTH_S):
            lifetime = self._lifetime
            answer = self._get_health()
            if answer is not None and lifetime == self._lifetime:
                with self._lock:
                    self._health[lifetime] = answer

    # -- helpers ---------------------------------------------------------------------------------

    def _spawn(self) -> None:
        self._lifetime += 1
        log = (self._log_dir / f"service-{self._lifetime}.log").open("wb")
        with log:
            self._proc = subprocess.Popen(
                self._command, cwd=self._cwd, stdout=log, stderr=subprocess.STDOUT
            )
        self._started_at = time.monotonic()

    def _healthy_now(self) -> bool:
        answer = self._get_health()
        return answer is not None and bool(answer.get("broker_connected"))

    def _get_health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(self._health_url, timeout=HEALTH_TIMEOUT_S) as response:
                answer = json.loads(response.read())
        except (OSError, ValueError):  # refused while restarting, or timed out while wedged
            return None
        return answer if isinstance(answer, dict) else None

    def _sample_rss(self, pid: int) -> None:
        try:
            process = psutil.Process(pid)
            tree = [process, *process.children(recursive=True)]
            rss = 0
            for member in tree:
                with contextlib.suppress(psutil.Error):
                    rss += int(member.memory_info().rss)
        except psutil.Error:
            return
        self.peak_rss_bytes = max(self.peak_rss_bytes, rss)

    def _reason(self, proc: subprocess.Popen[bytes]) -> str:
        code = proc.returncode
        if code is not None and code < 0:
            return f"killed by {signal.Signals(-code).name}"
        path = self._log_dir / f"service-{self._lifetime}.log"
        with contextlib.suppress(OSError):
            return _errors(path.read_text(errors="replace")) or f"exit code {code}"
        return f"exit code {code}"


def _errors(log: str) -> str:
    """The exceptions of the log's tracebacks, the original first (an error while shutting down
    is printed after the one that caused the shutdown), or the CLI's own error line."""
    found: list[str] = []
    for line in log.splitlines():
        match = _EXCEPTION_LINE.match(line)
        if match and not match.group(1).endswith("ExceptionGroup"):
            error = f"{match.group(1)}: {match.group(2)}"[:160]
        elif line.startswith("canteen: "):
            error = line[:160]
        else:
            continue
        if error not in found:
            found.append(error)
    if len(found) > 1:
        return f"{found[0]} (then {'; '.join(found[1:])})"
    return found[0] if found else ""
