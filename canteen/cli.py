"""The `canteen` command: demo, serve, sim, report, eval, user, token."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from canteen import eval_cli, report_cli, user_cli
from canteen.runtime import Overrides, Service, ServiceError, run_until
from core.clock import CatchUpClock, SystemClock
from core.config import SiteConfig, load_config
from core.errors import ConfigError
from ingest.errors import StoreError

__all__ = ["main"]

DEMO_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "demo-school.yaml"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    try:
        handler: Callable[[argparse.Namespace, asyncio.Event], Awaitable[None]] = args.handler
        asyncio.run(_until_signal(lambda stop: handler(args, stop)))
    except (ConfigError, ServiceError, StoreError) as exc:
        print(f"canteen: {exc}", file=sys.stderr)
        return 2
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="canteen", description="Food-safety and energy monitoring for school canteens."
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="run a simulated school, a broker, the service and the API on this machine"
    )
    demo.add_argument("--config", type=Path, default=DEMO_CONFIG, help="site config (YAML)")
    demo.add_argument("--listen", default="127.0.0.1:8000", help="API address HOST:PORT")
    demo.add_argument("--db", default="data/demo.duckdb", help="DuckDB file")
    demo.add_argument(
        "--history-hours", type=float, default=6.0, help="simulated history to fill in first"
    )
    demo.add_argument(
        "--broker",
        choices=["auto", "mosquitto", "embedded"],
        default="auto",
        help="auto: the system's mosquitto when installed, else the in-process broker",
    )
    demo.set_defaults(handler=_demo)

    serve = commands.add_parser("serve", help="run the gateway, the store and the API")
    serve.add_argument("--config", type=Path, required=True, help="site config (YAML)")
    serve.add_argument("--broker", help="mqtt://HOST:PORT, overrides mqtt.broker")
    serve.add_argument("--db", help="DuckDB file, overrides storage.path")
    serve.add_argument("--listen", help="API address HOST:PORT, overrides api.listen")
    serve.set_defaults(handler=_serve)

    sim = commands.add_parser(
        "sim", help="publish a simulated site to a broker, or run a scenario to files"
    )
    source = sim.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="site config (YAML): publish it live")
    source.add_argument(
        "--scenario", type=Path, help="scenario (YAML): site, span, seed, faults; needs --out"
    )
    sim.add_argument(
        "--out", type=Path, help="with --scenario: write readings, events and ground truth here"
    )
    sim.add_argument("--broker", help="mqtt://HOST:PORT, overrides mqtt.broker")
    sim.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second (default 1)"
    )
    sim.add_argument(
        "--start",
        type=datetime.fromisoformat,
        help="simulated start (RFC 3339); default: now, or 1 day ago when --speed > 1",
    )
    sim.add_argument(
        "--seed", type=int, help="random seed (same seed, same data); default 0, or the scenario's"
    )
    sim.add_argument(
        "--devices-per-bridge",
        type=int,
        default=0,
        help="share one MQTT connection among up to N devices, as a Zigbee/LoRa gateway does "
        "(default 0: one connection per device)",
    )
    sim.set_defaults(handler=_sim)
    report_cli.register(commands)
    eval_cli.register(commands)
    user_cli.register(commands)
    return parser


async def _until_signal(work: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `work(stop)`; the first SIGINT/SIGTERM sets `stop` so every component shuts down in
    order, a second one cancels outright."""
    stop = asyncio.Event()
    task = asyncio.ensure_future(work(stop))
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            task.cancel()
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    logging.getLogger("canteen").info("stopped")


async def _serve(args: argparse.Namespace, stop: asyncio.Event) -> None:
    config = load_config(args.config)
    service = Service(config, SystemClock(), Overrides(args.broker, args.db, args.listen))
    print(f"canteen serve: site {config.site.id}, API {service.url}/docs", flush=True)
    await service.run(stop)


async def _sim(args: argparse.Namespace, stop: asyncio.Event) -> None:
    if args.scenario is not None:
        await _sim_batch(args)
        return
    if args.out is not None:
        raise SystemExit("canteen sim: --out writes a scenario's files; it needs --scenario")
    from firmware_sim import Fleet

    config = load_config(args.config)
    start = args.start or datetime.now(UTC) - (timedelta(days=1) if args.speed > 1 else timedelta())
    if start.tzinfo is None:
        start = start.replace(tzinfo=config.site.zone)
    clock = CatchUpClock(start, args.speed)
    broker = args.broker or config.mqtt.broker
    print(f"canteen sim: {len(config.devices)} devices to {broker} at {args.speed:g}x from {start}")
    fleet = Fleet(
        config,
        clock,
        broker,
        seed=args.seed or 0,
        devices_per_bridge=args.devices_per_bridge or None,
    )
    await run_until(fleet.run(), stop)


async def _sim_batch(args: argparse.Namespace) -> None:
    """A scenario to files. Live scenarios (faults over MQTT) are not wired into the CLI yet."""
    from dataclasses import replace

    from firmware_sim.batch import run_batch
    from firmware_sim.scenario import load_scenario

    if args.out is None:
        raise SystemExit(
            "canteen sim: --scenario runs in batch mode only for now; add --out DIR "
            "(live scenarios over MQTT are not available yet)"
        )
    scenario = load_scenario(args.scenario)
    if args.seed is not None:
        scenario = replace(scenario, seed=args.seed)
    try:
        result = await asyncio.to_thread(run_batch, scenario, args.out)
    except OSError as exc:
        raise SystemExit(f"canteen sim: cannot write to {args.out}: {exc}") from exc
    print(
        f"canteen sim: scenario {scenario.name}, {result.devices} devices, "
        f"{result.simulated_days:g} days: {result.readings:,} readings, {result.events:,} events, "
        f"{result.faults} faults in {result.wall_s:.1f} s "
        f"({result.readings_per_s / 1e6:.2f} M readings/s) -> {result.out}"
    )


async def _demo(args: argparse.Namespace, stop: asyncio.Event) -> None:
    from canteen.demo import run_demo

    config: SiteConfig = load_config(args.config)
    await run_demo(
        config,
        listen=args.listen,
        db=args.db,
        history_hours=args.history_hours,
        broker=args.broker,
        stop=stop,
    )
