"""Wiring of the service: store, gateway and API on one asyncio loop (`canteen serve`)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from alerts import AlertService
from canteen.energy_alerts import EnergyAlerts
from canteen.notify_wiring import NotifyWiring
from core.clock import Clock
from core.config import SiteConfig, parse_listen
from dashboard_api import ApiContext, create_app
from dashboard_api.admin_desk import admin_desk
from dashboard_api.app import keep_charts_warm
from dashboard_api.auth import Auth
from dashboard_api.limit_desk import apply_stored_overrides
from dashboard_api.live import LiveHub
from gateway import Gateway
from ingest import DuckDBStore, StoreWriter
from ingest.duckdb_admin import DuckDBAdminStore
from ingest.duckdb_alerts import DuckDBAlertStore
from ingest.duckdb_calibration import DuckDBCalibrationStore
from ingest.duckdb_rollup_keeper import settle_every
from ingest.duckdb_users import DuckDBUserStore

__all__ = ["Overrides", "Service", "ServiceError", "run_until"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Overrides:
    """Command-line values that win over the config file and the environment."""

    broker: str | None = None
    db: str | None = None
    listen: str | None = None

    def applied_to(self, config: SiteConfig) -> SiteConfig:
        """The config with these values over its own (which hold the environment's already)."""
        mqtt, storage, api = config.mqtt, config.storage, config.api
        if self.broker:
            mqtt = mqtt.model_copy(update={"broker": self.broker})
        if self.db:
            storage = storage.model_copy(update={"path": self.db})
        if self.listen:
            api = api.model_copy(update={"listen": self.listen})
        return config.model_copy(update={"mqtt": mqtt, "storage": storage, "api": api})


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the service decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Service:
    def __init__(
        self, config: SiteConfig, clock: Clock, overrides: Overrides = Overrides()
    ) -> None:
        config = overrides.applied_to(config)
        self.config = config
        self.clock = clock
        self.db_path = Path(config.storage.path)
        self.broker_url = config.mqtt.broker
        self.host, self.port = parse_listen(config.api.listen)
        with contextlib.ExitStack() as opened:
            # The API's socket first: a busy port is refused before the database is opened, and
            # whatever was opened is closed again when a later step fails; run() closes it all.
            self._socket = _bind(self.host, self.port)
            opened.callback(self._socket.close)
            self.port = int(self._socket.getsockname()[1])
            self.store = DuckDBStore(self.db_path)
            opened.callback(self.store.close)
            self.alert_store = DuckDBAlertStore(self.db_path)
            opened.callback(self.alert_store.close)
            self.user_store = DuckDBUserStore(self.db_path)
            opened.callback(self.user_store.close)
            self.calibration_store = DuckDBCalibrationStore(self.db_path)
            opened.callback(self.calibration_store.close)
            self.admin_store = DuckDBAdminStore(self.db_path)
            opened.callback(self.admin_store.close)
            # Limits admins set in the web UI, laid over the file before the rules are built.
            stored = self.admin_store.limit_overrides(config.site.id)
            for problem in apply_stored_overrides(config, stored):
                log.warning("%s", problem)
            self._wire(config, clock)
            opened.pop_all()
        self._started = time.monotonic()

    def _wire(self, config: SiteConfig, clock: Clock) -> None:
        self.writer = StoreWriter(self.store)
        self.gateway = Gateway(
            config, self.writer, clock, broker_url=self.broker_url, stages=self.writer.stages
        )
        # Rules see each batch as soon as it is decoded once they are live (until then once
        # it is stored: `AlertService.takes_early`), and presence changes (Last Wills).
        self.alerts = AlertService(config, self.alert_store, clock)
        self.gateway.feed_rules(self.alerts)
        self.writer.add_presence_listener(self.alerts.on_presence)
        self.auth = Auth(self.user_store, config.auth, clock)
        # Live tiles see what is stored, after the rules have been handed it.
        self.live = LiveHub(config, self.store)
        self.writer.add_listener(self.live.on_batch)
        self.writer.add_presence_listener(self.live.on_presence)
        self.alerts.add_change_listener(self.live.on_alert_change)
        self.notify = self._notify_wiring(config, clock)
        # Energy anomalies become alerts (same lifecycle, routing and quiet hours).
        self.energy_alerts = EnergyAlerts(config, self.store, self.alerts, self.alert_store, clock)
        self.app = create_app(
            ApiContext(
                config,
                self.store,
                clock,
                self.status,
                alerts=self.alerts,
                calibration=self.calibration_store,
                live=self.live,
                auth=self.auth,
                deliveries=self.notify.outbox if self.notify is not None else None,
                admin=admin_desk(config, self.admin_store, self.auth, clock, self.alerts),
            )
        )
        self._server = _QuietServer(
            uvicorn.Config(
                self.app, host=self.host, port=self.port, log_level="warning", lifespan="off"
            )
        )

    def _notify_wiring(self, config: SiteConfig, clock: Clock) -> NotifyWiring | None:
        """Notifications, when the site config names channels: told of every alert change."""
        if not config.notify.channels:
            return None
        wiring = NotifyWiring(
            config,
            clock,
            db_path=self.db_path,
            alerts=self.alert_store,
            book=self.alerts.book,
            broker_url=self.broker_url,
        )
        self.alerts.add_change_listener(wiring.on_alert_change)
        return wiring

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_ready(self) -> bool:
        return bool(self._server.started)

    def status(self) -> dict[str, Any]:
        gw = self.gateway.stats
        return {
            "broker": self.broker_url,
            "broker_connected": self.gateway.connected,
            "uptime_s": round(time.monotonic() - self._started, 1),
            "messages_received": gw.messages,
            "messages_acknowledged": gw.acked,
            "readings_stored": gw.stored,
            "faults": self.gateway.faults() + self.alerts.fault_lines(),
            "dead_letters": sum(gw.dead_letters.values()),
            "dead_letters_by_reason": dict(gw.dead_letters),
            "store_retries": gw.store_retries,
            # Where the readings path's time goes, per step (core.stages).
            "ingest_latency_ms": self.writer.stages.snapshot(),
            # How far behind the stream the rules judge and what they cost (alerts.pace), and
            # how far their start-up replay is (alerts.start_up).
            "rules": {
                "live": self.alerts.live,
                "catch_up": self.alerts.catch_up_figures(),
                # rules that failed on a reading, per device (alerts.rule_faults)
                "faults": self.alerts.engine.fault_figures(),
                **self.alerts.pace.figures(),
            },
        }

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set, then shut down in order: API, gateway, store."""
        log.info("store %s, broker %s, API %s", self.db_path, self.broker_url, self.url)
        try:
            async with asyncio.TaskGroup() as tasks:
                gateway = tasks.create_task(self.gateway.run(), name="gateway")
                alerts = tasks.create_task(self.alerts.run(), name="alerts")
                tasks.create_task(self._server.serve([self._socket]), name="api")
                notify = self._start_notify(tasks)
                energy = tasks.create_task(self.energy_alerts.run(), name="energy-alerts")
                # The readings rollups, brought up to date after the writes (issue 13).
                rollups = tasks.create_task(settle_every(self.store.settle_rollups), name="rollups")
                # Each device's preset charts drawn before staff open them (issue 12).
                charts = tasks.create_task(keep_charts_warm(self.app), name="chart-warmer")
                heap = tasks.create_task(_freeze_heap_when_live(self.alerts), name="gc-freeze")
                await stop.wait()
                self._server.should_exit = True
                gateway.cancel()
                alerts.cancel()
                energy.cancel()
                rollups.cancel()
                charts.cancel()
                heap.cancel()
                if notify is not None:
                    notify.cancel()
        finally:
            gc.unfreeze()  # what start-up built may be garbage now (tests run many services)
            if self.notify is not None:
                await self.notify.disconnect()
            self.close()

    def _start_notify(self, tasks: asyncio.TaskGroup) -> asyncio.Task[None] | None:
        if self.notify is None:
            return None
        return tasks.create_task(self.notify.run(), name="notify")

    def close(self) -> None:
        """Release the API socket and the database (run() does it when it ends)."""
        self._socket.close()
        if self.notify is not None:
            self._close_quietly(self.notify)
        for opened in (self.user_store, self.calibration_store, self.alert_store, self.store):
            # A query still running in a worker thread makes DuckDB refuse to close ("busy");
            # that must not hide why the service is stopping.
            self._close_quietly(opened)

    @staticmethod
    def _close_quietly(opened: Any) -> None:
        try:
            opened.close()
        except Exception:
            log.exception("closing %s failed", type(opened).__name__)


async def _freeze_heap_when_live(alerts: AlertService) -> None:
    """Once the rules are live, what start-up built (config, rule state of every device, the
    live hub's memory, imported code: millions of objects) is moved out of the garbage
    collector's reach (`gc.freeze`). Each full collection walked all of it: at 10 k msg/s,
    where readings make garbage fast, those walks held the event loop for 200-300 ms at a time
    (the rules' `listeners` span max 209-294 ms without, 47-107 ms with; bench/README.md)."""
    await alerts.until_live()
    gc.collect()  # what is garbage already is not kept for good
    gc.freeze()
    log.info(
        "alerts live: %d objects of the start-up left out of collections", gc.get_freeze_count()
    )


async def run_until(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> None:
    """Run `work` until it ends or `stop` is set; then cancel it and wait for its clean-up."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _bind(host: str, port: int) -> socket.socket:
    """Bind the API's socket up front, so a busy port is a clear error before anything starts."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServiceError(
            f"cannot listen on {host}:{port}: {exc.strerror}; "
            "choose another with --listen HOST:PORT"
        ) from exc
    sock.listen(128)
    sock.setblocking(False)
    return sock


class ServiceError(Exception):
    """The service cannot start as configured."""
