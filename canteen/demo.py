"""`canteen demo`: a broker, the simulated demo school, the service and the API in one process.

The broker is the system's mosquitto when installed, else the in-process `EmbeddedBroker`, so
the demo needs nothing but Python. The simulator first fills in a few hours of history at high
speed, then runs in real time, so charts have data from the first minute. It makes the
account `admin` with a random password, printed with the address at start (a new one at each
start): the only place a password is made up for anyone. The notifications the demo config
sends to its local webhook are printed as they arrive (`canteen.demo_inbox`).

Each start simulates the school afresh, so it starts on a fresh database: a second simulated
history laid over the first would make every meter's counter jump back and forth and double the
readings of the hours both cover. The previous run's file is kept beside it as
`<name>.previous.duckdb` (one generation), for whoever wants to look at it again.

The history holds one fault on purpose (`demo_faults`): a fridge's compressor stops for two
and a half hours, so a new user finds an over-temperature alert to acknowledge and close with
its corrective action and food decision, instead of a school where nothing ever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from canteen.demo_inbox import demo_inbox, inbox_ports
from canteen.runtime import Overrides, Service, ServiceError, run_until
from core.clock import CatchUpClock, SystemClock
from core.config import SiteConfig, parse_listen
from core.model import DeviceKind
from core.records import Role
from demo_broker import EmbeddedBroker, MosquittoProcess, find_mosquitto
from firmware_sim.faults import Fault, FaultType
from firmware_sim.models import build_model
from ingest import DuckDBStore, StoreError

__all__ = ["demo_faults", "inbox_clash", "run_demo", "set_aside", "staged_fault"]

log = logging.getLogger(__name__)

DEMO_ADMIN = "admin"

# Six hours of history in about 30 s of wall time.
CATCH_UP_SPEED = 720.0
# The staged compressor failure: it stops this long before the present, for this long, so that
# the food estimate (tau 30 min) stays above the fridge's limit for its 30 min while the air is
# still warm, and the alert fires and resolves inside the history. The demo fridge's air
# crosses 8 °C some 45 min after its compressor stops and the estimate some 75 min after; once
# the air is back in band, the estimate's fading warmth is excused (`alerts.rules.threshold`),
# so a 90-min stop fired nothing. 150 min fires 100-110 min in, at any hour of the day, and
# the alert resolves 1-2 h after the restart (tests/canteen/test_demo_staged_fault.py).
FAULT_BEFORE_NOW = timedelta(hours=4, minutes=30)
FAULT_LASTS = timedelta(minutes=150)
# The web UI's hosts that take the inbox's loopback port too (all addresses include it).
_INBOX_HOSTS = {"127.0.0.1", "localhost", "0.0.0.0", "::", "[::]"}


@contextlib.asynccontextmanager
async def running_broker(kind: str = "auto") -> AsyncIterator[str]:
    """Yields the URL of a broker that runs for the demo's lifetime: `mosquitto`, `embedded`,
    or `auto` (mosquitto when installed)."""
    if kind == "mosquitto" or (kind == "auto" and find_mosquitto() is not None):
        broker = await asyncio.to_thread(MosquittoProcess().start)
        log.info("broker: mosquitto (%s) on %s", broker.binary, broker.url)
        try:
            yield broker.url
        finally:
            await asyncio.to_thread(broker.stop)
        return
    async with EmbeddedBroker() as embedded:
        log.info("broker: mosquitto not installed, using the embedded broker on %s", embedded.url)
        yield embedded.url


async def run_demo(
    config: SiteConfig,
    *,
    listen: str,
    db: str,
    history_hours: float,
    stop: asyncio.Event,
    broker: str = "auto",
) -> None:
    from firmware_sim import Fleet

    clash = inbox_clash(config, listen)
    if clash is not None:
        raise ServiceError(clash)
    kept = set_aside(Path(db))
    if kept is not None:
        print(f"The previous demo's database is kept as {kept}; this run starts afresh.")
    async with running_broker(broker) as broker_url, demo_inbox(config):
        service = Service(config, SystemClock(), Overrides(broker=broker_url, db=db, listen=listen))
        catch_up_s = history_hours * 3600 / CATCH_UP_SPEED
        password = _demo_admin(service)
        _announce(
            service,
            config,
            f"{history_hours:g} h of history first (~{catch_up_s:.0f} s)",
            password,
            staged_fault(config, history_hours),
        )
        # On stop the simulator goes first (its devices say 'offline'), then the service.
        service_stop = asyncio.Event()
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(service.run(service_stop), name="service")
            if await _subscribed(service, stop):
                # The history's clock starts now, not before the service was up: it runs at
                # 720x, so each second of start-up would otherwise skip 12 minutes of history
                # (a loaded machine lost the first half hour), and what is published before the
                # gateway's first subscription has no session at the broker to wait in.
                start = datetime.now(UTC) - timedelta(hours=history_hours)
                faults = demo_faults(config, start, history_hours)
                fleet = Fleet(
                    config,
                    CatchUpClock(start, CATCH_UP_SPEED),
                    broker_url,
                    model_factory=lambda c, d, seed: build_model(c, d, seed, faults),
                )
                await run_until(fleet.run(), stop)
            service_stop.set()


def inbox_clash(config: SiteConfig, listen: str) -> str | None:
    """Why the web UI cannot listen on `listen`: the port is where the demo's notification
    inbox listens (a loopback webhook channel of the config, `demo_inbox`); None if it may.
    Asked to share it, the inbox binds first and the service's port reads as busy, with
    nothing else on the machine holding it."""
    host, port = parse_listen(listen)
    if port not in inbox_ports(config) or host not in _INBOX_HOSTS:
        return None
    return (
        f"cannot listen on {listen}: the demo's notifications arrive at 127.0.0.1:{port} "
        "(the site config's webhook channel); choose another with --listen HOST:PORT"
    )


def demo_faults(config: SiteConfig, start: datetime, history_hours: float) -> tuple[Fault, ...]:
    """The compressor of the site's second fridge (the first is the one the quick start's
    links show) stops `FAULT_BEFORE_NOW` before the present for `FAULT_LASTS`; nothing when the
    history is too short to hold it or the site has no second fridge."""
    fridges = [d for d in config.devices if d.kind is DeviceKind.FRIDGE]
    onset = start + timedelta(hours=history_hours) - FAULT_BEFORE_NOW
    if len(fridges) < 2 or onset < start:
        return ()
    end = onset + FAULT_LASTS
    return (Fault(FaultType.COMPRESSOR_FAILURE, fridges[1].id, onset.timestamp(), end.timestamp()),)


def staged_fault(config: SiteConfig, history_hours: float) -> str:
    """The announcement's line about the staged failure ('' when there is none)."""
    faults = demo_faults(config, datetime.now(UTC), history_hours)
    device = next((d for d in config.devices if faults and d.id == faults[0].device), None)
    if device is None:
        return ""
    return (
        f"Staged in the history: the compressor of {device.id} ({device.location}) stops "
        f"{FAULT_BEFORE_NOW.total_seconds() / 3600:g} h before now for "
        f"{FAULT_LASTS.total_seconds() / 60:g} min: an alert to acknowledge and close.\n"
    )


def set_aside(db: Path) -> Path | None:
    """Move an earlier run's database (and its write-ahead log) to `<stem>.previous<suffix>`,
    replacing the one kept before; the path it was moved to, or None when there was none."""
    if not db.exists():
        return None
    _refuse_if_open(db)
    kept = db.with_name(f"{db.stem}.previous{db.suffix}")
    for source, target in ((db, kept), (_wal(db), _wal(kept))):
        target.unlink(missing_ok=True)
        if source.exists():
            source.replace(target)
    return kept


def _refuse_if_open(db: Path) -> None:
    """A demo still running holds the file: moving it away under that demo would lose its
    writes, so say what to do instead."""
    try:
        DuckDBStore(db, read_only=True).close()
    except StoreError as exc:
        if "lock" in str(exc).lower():
            raise SystemExit(
                f"canteen demo: {db} is open in another running demo or service; stop it "
                "first, or give this demo its own file with --db PATH"
            ) from None
        # Not a database we can read (a broken file from a crash): set it aside all the same.


def _wal(db: Path) -> Path:
    return db.with_name(db.name + ".wal")


async def _subscribed(service: Service, stop: asyncio.Event) -> bool:
    """Wait until the broker has confirmed the gateway's subscription; False if stopped first."""
    while not service.gateway.subscribed:
        if stop.is_set():
            return False
        await asyncio.sleep(0.05)
    return True


def _demo_admin(service: Service) -> str:
    """The demo's one account: `admin` with a new random password at every start (printed).
    Only the demo has a made-up password; a real site adds its people with `canteen user add`."""
    password = secrets.token_urlsafe(12)
    if service.auth.store.user(DEMO_ADMIN) is None:
        service.auth.add_user(DEMO_ADMIN, Role.ADMIN, password)
    else:
        service.auth.set_password(DEMO_ADMIN, password)
        service.auth.set_disabled(DEMO_ADMIN, False)
    return password


def _announce(
    service: Service, config: SiteConfig, history: str, password: str, staged: str
) -> None:
    first = config.devices[0].id if config.devices else "DEVICE"
    print(
        f"""
canteen-monitor demo: {config.site.name} ({len(config.devices)} simulated devices)
  web UI          {service.url}/  log in as {DEMO_ADMIN}, password {password}
  API docs        {service.url}/docs
  health          {service.url}/api/health
  devices         {service.url}/api/devices
  latest values   {service.url}/api/devices/{first}/latest
  a series        {service.url}/api/devices/{first}/series?metric=temp_c&step=5m
  dead letters    {service.url}/api/deadletter
The simulator fills in {history}, then runs live.
{staged}Stop with Ctrl-C. Data is kept in {service.db_path} until the next start (afresh).
""",
        flush=True,
    )
