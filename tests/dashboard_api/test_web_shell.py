"""The web UI's shell: language, security headers, the API docs from the service's own files,
the layout a page helper builds on, print CSS. Through the real app (`wired_app`)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from core.records import Role
from dashboard_api.web.i18n import CATALOGUE
from tests.dashboard_api.accounts import log_in

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def shell_app(wired: FastAPI) -> FastAPI:
    wired.state.accounts.person("李经理", Role.VIEWER, PASSWORD)
    return wired


@pytest.fixture
async def browser(shell_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=shell_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://school") as client:
        yield client


def test_both_languages_have_every_word() -> None:
    assert set(CATALOGUE["zh"]) == set(CATALOGUE["en"])
    assert all(text.strip() for words in CATALOGUE.values() for text in words.values())


async def test_chinese_by_default_english_kept_in_a_cookie(browser: httpx.AsyncClient) -> None:
    first = await browser.get("/login")
    assert '<html lang="zh-CN">' in first.text and "用户名" in first.text
    english = await browser.get("/login?lang=en")
    assert "User name" in english.text and "canteen_lang=en" in english.headers["set-cookie"]
    # The switch keeps the page's own query (here: where to go after logging in).
    assert 'href="/login?lang=zh"' in english.text
    assert "User name" in (await browser.get("/login")).text  # the cookie remembers
    assert "用户名" in (await browser.get("/login?lang=zh")).text  # ?lang= wins


async def test_the_shell_for_a_logged_in_person(browser: httpx.AsyncClient) -> None:
    await log_in(browser, "李经理", PASSWORD)
    page = await browser.get("/")
    assert page.status_code == 200
    bar = page.text[page.text.index("<nav") : page.text.index("</nav>")]
    nav = re.findall(r'<a href="(/[a-z]*)"( aria-current="page")?>([^<]+)</a>', bar)
    assert [(path, text) for path, _, text in nav] == [
        ("/", "总览"),
        ("/alerts", "报警"),
        ("/registers", "记录"),
        ("/energy", "能耗"),
    ]
    assert [path for path, current, _ in nav if current] == ["/"]
    assert "李经理" in page.text and "查看" in page.text  # the user menu: name and role
    # The footer shows the injected clock's noon UTC+8 (tests/dashboard_api/conftest.py).
    assert "2026-11-23 12:00" in page.text
    assert re.search(r'<meta name="csrf" content="[\w-]{40,}">', page.text)
    alerts = await browser.get("/alerts?lang=en")
    assert 'href="/alerts" aria-current="page">Alerts' in alerts.text


async def test_pages_and_answers_carry_the_security_headers(browser: httpx.AsyncClient) -> None:
    for path in ("/login", "/api/health", "/static/app.css", "/docs"):
        headers = (await browser.get(path)).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        # Swagger UI sets style attributes from its script: only /docs allows inline style.
        assert "script-src 'self'" in csp and "script-src 'self' 'unsafe" not in csp
        assert ("'unsafe-inline'" in csp) == (path == "/docs")
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"


async def test_the_api_docs_use_the_services_own_files(browser: httpx.AsyncClient) -> None:
    docs = await browser.get("/docs")
    assert docs.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert assets and all(a.startswith("/static/") for a in assets), assets
    assert "/static/swagger/swagger-ui-bundle.js" in assets
    for asset in assets:
        answer = await browser.get(asset)
        assert answer.status_code == 200 and len(answer.content) > 100, asset
    bundle = await browser.get("/static/swagger/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text
    assert "/docs/openapi.json" in (await browser.get("/static/docs.js")).text


async def test_the_docs_read_the_schema_in_openapi_30_terms(browser: httpx.AsyncClient) -> None:
    """Swagger UI 4 (the packaged one) refuses OpenAPI 3.1, which FastAPI writes."""
    original = (await browser.get("/openapi.json")).json()
    shown = (await browser.get("/docs/openapi.json")).json()
    assert original["openapi"].startswith("3.1") and shown["openapi"] == "3.0.3"
    assert set(shown["paths"]) == set(original["paths"])
    assert '{"type": "null"}' not in json.dumps(shown)
    limit = shown["paths"]["/api/alerts"]["get"]["parameters"]
    device = next(p for p in limit if p["name"] == "device")
    assert device["schema"]["type"] == "string" and device["schema"]["nullable"] is True


async def test_own_static_files_hold_no_third_party_code(browser: httpx.AsyncClient) -> None:
    script = (await browser.get("/static/app.js")).text
    assert "X-CSRF-Token" in script and "http://" not in script and "https://" not in script
    css = (await browser.get("/static/app.css")).text
    assert "@import" not in css and "url(http" not in css
    print_rules = css[css.index("@media print") :]
    assert ".bar" in print_rules and "display: none" in print_rules
