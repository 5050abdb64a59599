"""The web UI in a real browser: `canteen serve` as a child process on a free loopback port
(a real Mosquitto, a temporary DuckDB file, people added with the `canteen user add` command
as an operator adds them), and Debian's Chromium driven headless by Playwright (its own
browser builds are never downloaded: `executable_path` points at /usr/bin/chromium).

One service and one browser for the package's tests, stopped after its last one: Playwright's
sync API holds an event loop on the main thread while it runs, which would refuse the
`asyncio.run` of every later test. Each test gets a fresh page with no cookies. When a test fails,
a screenshot and the page's HTML go to `<pytest tmp>/browser-failures/<test>/` and the path is
printed in the failure's report."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from canteen.cli import main
from demo_broker.mosquitto import MosquittoProcess, free_port

# Playwright must never fetch its own browsers here (school networks, offline CI).
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

from playwright.sync_api import (
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

CHROMIUM = Path(os.environ.get("CANTEEN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
SITE_ID = "browser-school"
SITE_NAME = "阳光小学 Browser Test School"
STAFF = ("王老师", "staff password 1")
VIEWER = ("李阿姨", "viewer password 2")
ADMIN = ("赵校长", "admin password 3")
START_TIMEOUT_S = 60.0
LIVE_TIMEOUT_MS = 10_000  # a published reading reaches its tile within this (bounded wait)
# Page loads and assertions wait this long at most: generous for a machine shared with other
# jobs, still bounded (a missing element fails the test, it never hangs it).
WAIT_MS = 15_000
expect.set_options(timeout=WAIT_MS)


@dataclass(frozen=True, slots=True)
class Service:
    """The running service: its base URL, the broker topic prefix and the site id."""

    base: str
    prefix: str
    site: str
    db: Path

    def telemetry(self, device: str) -> str:
        return f"{self.prefix}/{self.site}/{device}/telemetry"

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def site_document(prefix: str, db: Path) -> dict[str, Any]:
    """Cold storage in one canteen: what the overview, the alerts and the registers show."""
    return {
        "site": {"id": SITE_ID, "name": SITE_NAME, "timezone": "Asia/Shanghai"},
        "mqtt": {"topic_prefix": prefix, "client_id": f"browser-gw-{uuid.uuid4().hex[:8]}"},
        "storage": {"backend": "duckdb", "path": str(db)},
        # Judged on the air probe: an over-temperature history alerts after its 30 min of
        # event time, without waiting for the estimated food temperature to follow.
        "rules": {"judge_on": "air"},
        # Logins hash at the least cost allowed: the tests log in often.
        "auth": {"password_memory_mib": 19, "password_passes": 2},
        "buildings": [{"id": "canteen", "name": "食堂 Canteen", "kind": "canteen"}],
        "devices": [
            {
                "id": "fridge-1",
                "kind": "fridge",
                "building": "canteen",
                "location": "主厨房 冷藏柜1 vegetables",
                "interval_s": 30,
            },
            {
                "id": "fridge-2",
                "kind": "fridge",
                "building": "canteen",
                "location": "备餐间 冷藏柜 cooked food",
                "interval_s": 30,
            },
            {
                "id": "freezer-1",
                "kind": "freezer",
                "building": "canteen",
                "location": "冻库 meat",
                "interval_s": 30,
            },
            {  # the admin pages' test changes its limits
                "id": "fridge-3",
                "kind": "fridge",
                "building": "canteen",
                "location": "面点间 冷藏柜 pastry",
                "interval_s": 30,
            },
            {  # the live alert steps' test raises and closes an alert on it
                "id": "fridge-4",
                "kind": "fridge",
                "building": "canteen",
                "location": "留样间 冷藏柜 drinks",
                "interval_s": 30,
            },
        ],
    }


def add_person(config: Path, name: str, role: str, password: str) -> None:
    """`canteen user add NAME --role ROLE --password-stdin`, the operator's command, run in this
    process (its imports are already paid for); fails naming the command's own message."""
    argv = ["user", "add", name, "--role", role, "--password-stdin", "--config", str(config)]
    kept = sys.stdin
    sys.stdin = io.StringIO(password + "\n")
    try:
        code = main(argv)
    except SystemExit as exc:  # a refusal: its message is the exit value
        raise RuntimeError(f"canteen user add {name} refused: {exc.code}") from None
    finally:
        sys.stdin = kept
    if code != 0:
        raise RuntimeError(f"canteen user add {name} exited {code}")


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"canteen serve exited {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/api/health", timeout=2).json().get("broker_connected"):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"canteen serve not healthy in {START_TIMEOUT_S:.0f} s: {log.read_text()}")


@pytest.fixture(scope="package")
def service(
    tmp_path_factory: pytest.TempPathFactory, mosquitto: MosquittoProcess
) -> Iterator[Service]:
    work = tmp_path_factory.mktemp("browser-service")
    db = work / "site.duckdb"
    prefix = f"browser/{uuid.uuid4().hex[:8]}"
    config = work / "site.yaml"
    config.write_text(yaml.safe_dump(site_document(prefix, db), allow_unicode=True))
    # People are added before the service opens the file (DuckDB: one writing process).
    for (name, password), role in ((STAFF, "staff"), (VIEWER, "viewer"), (ADMIN, "admin")):
        add_person(config, name, role, password)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = work / "serve.log"
    listen = f"127.0.0.1:{port}"
    serve = ["serve", "--config", str(config), "--broker", mosquitto.url, "--listen", listen]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "canteen", "--log-level", "warning", *serve],
            cwd=work,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        _wait_healthy(base, proc, log)
        yield Service(base, prefix, SITE_ID, db)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="package", autouse=True)
def chromium() -> Path:
    """The system Chromium, checked before anything starts: without it every browser test
    fails with this message (never a download attempt, never a skip)."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        found = shutil.which("chromium")
        pytest.fail(
            f"browser tests need Chromium at {CHROMIUM} (found: {found or 'none'}); "
            "`make test` installs Debian's chromium when run as root, otherwise run "
            "`sudo apt-get install chromium` or set CANTEEN_CHROMIUM to its path",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="package")
def playwright(service: Service) -> Iterator[Playwright]:
    """The driver, started after the service: the service's setup runs the `canteen` command,
    which runs an event loop of its own, and Playwright's sync API holds one on this thread
    from its start."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(
    playwright: Playwright, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserContext]:
    """One Chromium for the browser tests, on a fresh user-data-dir under the pytest tmp dir."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport={"width": 1280, "height": 900},
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        accept_downloads=True,
    )
    context.set_default_timeout(WAIT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    """A new tab with no cookies (nobody logged in); closed after the test."""
    browser.clear_cookies()
    tab = browser.new_page()
    try:
        yield tab
    finally:
        tab.close()


def log_in(page: Page, service: Service, who: tuple[str, str], next_path: str = "/") -> None:
    """Log in through the login form as a person does."""
    page.goto(service.url(f"/login?next={next_path}"))
    page.fill("input[name=name]", who[0])
    page.fill("input[name=password]", who[1])
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


MINUTE_MS = 60_000


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def reading(ts_ms: int, seq: int, temp_c: float) -> dict[str, object]:
    """A canonical telemetry payload of one temperature reading at `ts_ms` (event time)."""
    return {"ts": ts_ms, "seq": seq, "m": {"temp_c": temp_c}}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    tab = getattr(item, "funcargs", {}).get("page")
    if not isinstance(tab, Page) or tab.is_closed():
        return
    folder = _failure_folder(item)
    saved = [f"browser failure: {folder}"]
    try:
        tab.screenshot(path=str(folder / "screenshot.png"), full_page=True)
        (folder / "page.html").write_text(tab.content(), encoding="utf-8")
        saved.append(f"url {tab.url}; screenshot.png and page.html saved")
    except Exception as exc:  # a crashed tab must not hide the test's own failure
        saved.append(f"could not save the page: {exc}")
    print("\n".join(saved), file=sys.stderr)
    report.sections.append(("browser failure", "\n".join(saved)))


def _failure_folder(item: pytest.Item) -> Path:
    factory: pytest.TempPathFactory = item.config._tmp_path_factory  # type: ignore[attr-defined]
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in item.name)[:80]
    folder = factory.getbasetemp() / "browser-failures" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder
