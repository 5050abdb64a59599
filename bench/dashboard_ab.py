"""Dashboard latency as a C client sees it: `ab` (ApacheBench) with 20 concurrent keep-alive
connections against the real service on the same store as `bench.dashboard`.

Run ``python -m bench.dashboard_ab --db /tmp/dash.duckdb`` (a store `bench.dashboard --db` filled;
`ab` comes with Debian's `apache2-utils`). One JSON object goes to stdout; progress to stderr.

Why beside `bench.dashboard`: its clients are Python (httpx) on the same 2 cores, and in its
per-kind phases they use 1.1-1.6 CPUs while the service uses 0.1-0.4: the clients' own
scheduling, not the service, sets its tails. `ab` costs a few percent of a core, so what it
measures is the service. Per kind: `--requests` requests, `--clients` at a time, one URL per
kind (the overview's device list, a device's latest values, the week chart its page embeds, as a
browser asks it (gzip), the overview page and a device page over a week), p50/p99/max from
ab's own percentile table, requests per second; and, the baseline, a bare ab of /api/health
(the service's cheapest answer, public, no store read). Charts are measured once the service
holds every device's week chart, as in `bench.dashboard`. Beside each kind: the service's CPU
per answer, the load average; the service's idle CPU share and its RSS before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from bench.backlog import BenchError
from bench.dashboard import HOST, TARGET_P99_MS
from bench.dashboard_load import page_chart_urls, wait_for_kept_charts
from bench.dashboard_proc import rss_mb, settle, tree_cpu_s
from bench.dashboard_store import site_document, viewer_token
from bench.fuzz_service import ServiceUnderTest
from demo_broker.mosquitto import MosquittoProcess, free_port

IDLE_SAMPLE_S = 5.0


def ab_figures(output: str) -> dict[str, Any]:
    """p50/p99/max (ms), requests/s and failures from ab's report."""
    percent = dict(re.findall(r"^\s+(\d+)%\s+(\d+)", output, re.M))
    rate = re.search(r"Requests per second:\s+([\d.]+)", output)
    failed = re.search(r"Failed requests:\s+(\d+)", output)
    non_2xx = re.search(r"Non-2xx responses:\s+(\d+)", output)
    if "50" not in percent or rate is None:
        raise BenchError(f"ab gave no percentiles: {output[-400:]!r}")
    return {
        "p50_ms": int(percent["50"]),
        "p99_ms": int(percent["99"]),
        "max_ms": int(percent["100"]),
        "requests_per_s": float(rate.group(1)),
        "failed": int(failed.group(1)) if failed else 0,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
    }


def run_ab(
    url: str, headers: Sequence[str], requests: int, clients: int, nice: int = 0
) -> dict[str, Any]:
    command = ["nice", "-n", str(nice)] if nice else []
    command += ["ab", "-q", "-k", "-n", str(requests), "-c", str(clients)]
    for header in headers:
        command += ["-H", header]
    done = subprocess.run([*command, url], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"ab {url}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
    return ab_figures(done.stdout)


def measured_kind(
    url: str, headers: Sequence[str], args: argparse.Namespace, pid: int
) -> dict[str, Any]:
    """ab's figures with the service's CPU per answer (its process tree's user + system time
    over the run, divided by the requests: the chart warmer's background work included, so
    read it beside the idle figure) and the 1-minute load average at the end."""
    before = tree_cpu_s(pid)
    figures = run_ab(url, headers, args.requests, args.clients, args.client_nice)
    spent = tree_cpu_s(pid) - before
    figures["service_cpu_ms_per_answer"] = round(spent * 1000 / args.requests, 2)
    figures["load_1m"] = round(os.getloadavg()[0], 2)
    return figures


def idle_cpu_share(pid: int, seconds: float) -> float:
    """The service's own CPU use with no client (the chart warmer, rollups, rules' ticks)."""
    before = tree_cpu_s(pid)
    time.sleep(seconds)
    return round((tree_cpu_s(pid) - before) / seconds, 3)


def measure(args: argparse.Namespace, base: str, pid: int, token: str) -> dict[str, Any]:
    settled = settle(pid, args.settle_s, say)
    auth = {"Authorization": f"Bearer {token}"}
    urls = page_chart_urls(base, auth, args.devices, say)
    kept_after, _ = wait_for_kept_charts(base, auth, list(urls.values()), args.warm_s)
    urls = page_chart_urls(base, auth, args.devices, say)
    idle = idle_cpu_share(pid, IDLE_SAMPLE_S)
    device = f"d{args.devices // 2:03d}"
    bearer = [f"Authorization: Bearer {token}"]
    kinds: dict[str, tuple[str, list[str]]] = {
        "health_baseline": ("/api/health", []),
        "devices": ("/api/devices", bearer),
        "latest": (f"/api/devices/{device}/latest", bearer),
        "page_overview": ("/", bearer),
        "page_device_week": (f"/devices/{device}?metric=temp_c&range=7d", bearer),
    }
    if urls:
        kinds["chart_week"] = (urls[device], [*bearer, "Accept-Encoding: gzip"])
    per_kind: dict[str, Any] = {}
    rss_idle = rss_mb(pid)
    for kind, (path, headers) in kinds.items():
        per_kind[kind] = measured_kind(base + path, headers, args, pid)
        say(f"{kind}: {per_kind[kind]}")
    return {
        "service_rss_mb": {"before_kinds": round(rss_idle, 1), "after": round(rss_mb(pid), 1)},
        "client": "ab (ApacheBench), keep-alive",
        "devices": args.devices,
        "concurrent_clients": args.clients,
        "requests_per_kind": args.requests,
        "service_settled_after_s": settled,
        "week_charts_kept_after_s": kept_after,
        "service_idle_cpu_share": idle,
        "per_kind": per_kind,
        "meets_target_p99_50ms": {
            kind: figures["p99_ms"] <= TARGET_P99_MS for kind, figures in per_kind.items()
        },
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    if shutil.which("ab") is None:
        raise BenchError(
            "ab not found: install Debian's apache2-utils (apt-get install apache2-utils)"
        )
    if not args.db.exists():
        raise BenchError(
            f"--db {args.db}: no such file; fill one with python -m bench.dashboard --db"
        )
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-ab-") as tmp:
        work = Path(tmp)
        site = work / "site.yaml"
        site.write_text(yaml.safe_dump(site_document(args.devices, args.interval_s)))
        broker = MosquittoProcess().start()
        try:
            api = f"{HOST}:{free_port()}"
            token = viewer_token(site, args.db, args.service_root, say)
            if token is None:
                raise BenchError("no viewer token could be made for the service")
            command = [sys.executable, "-m", "canteen", "--log-level", "warning", "serve"]
            command += ["--config", str(site), "--broker", broker.url, "--db", str(args.db)]
            service = ServiceUnderTest(
                [*command, "--listen", api], f"http://{api}", work, 0, say, cwd=args.service_root
            )
            service.start()
            try:
                pid = service._proc.pid if service._proc is not None else 0
                return measure(args, f"http://{api}", pid, token)
            finally:
                service.stop()
        finally:
            broker.stop()


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard_ab", description=__doc__)
    parser.add_argument("--db", type=Path, required=True, help="a store bench.dashboard filled")
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--interval-s", type=int, default=60)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--settle-s", type=float, default=300.0)
    parser.add_argument("--warm-s", type=float, default=300.0)
    parser.add_argument(
        "--client-nice", type=int, default=10, help="ab runs at this niceness (0: as is)"
    )
    parser.add_argument(
        "--service-root", type=Path, default=None, help="run the service from this source tree"
    )
    args = parser.parse_args(argv)
    try:
        report = run(args)
    except BenchError as exc:
        print(f"bench.dashboard_ab: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
