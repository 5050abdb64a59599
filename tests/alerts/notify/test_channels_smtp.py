"""E-mail through a real SMTP server (aiosmtpd): plain, STARTTLS with login and implicit TLS,
both with a self-signed certificate the client is told to trust; a multipart message whose
Message-ID follows the idempotency key; refusals translated by their reply codes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from alerts.notify.channels import CHANNEL_CONFIG, SmtpChannel
from alerts.notify.channels.config import SmtpConfig
from alerts.notify.channels.smtp import message_id
from core.clock import StepClock
from tests.alerts.notify.conftest import ACK, make_notice
from tests.alerts.notify.receivers import MailReceiver, free_port, self_signed_cert

ADDRESSES = ("cook@school.example.cn", "manager@school.example.cn")


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def plain_server() -> Iterator[MailReceiver]:
    with MailReceiver("plain", None) as server:
        yield server


def smtp(port: int, **extra: Any) -> SmtpConfig:
    data = {
        "type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "security": "plain",
        "sender": "alerts@school.example.cn",
        **extra,
    }
    parsed = CHANNEL_CONFIG.validate_python(data)
    assert isinstance(parsed, SmtpConfig)
    return parsed


async def test_plain_multipart_message(plain_server: MailReceiver, clock: StepClock) -> None:
    channel = SmtpChannel("mail", smtp(plain_server.port), clock)
    delivery = await channel.send(make_notice(addresses=ADDRESSES))
    assert delivery.ok, delivery.reason
    ((envelope, msg),) = plain_server.handler.messages
    assert envelope.mail_from == "alerts@school.example.cn"
    assert envelope.rcpt_tos == list(ADDRESSES)
    assert msg["Subject"] == "【严重】告警：1号冷藏柜（食堂后厨）"
    assert msg["To"] == ", ".join(ADDRESSES)
    assert msg["Message-ID"] == message_id(make_notice().key, "alerts@school.example.cn")
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    text, page = plain.get_content(), html.get_content()
    assert "开始时间：2026-11-23 09:05 (UTC+08:00)" in text and f"{ACK}42" in text
    assert f'<a href="{ACK}42">确认处理</a>' in page


async def test_retry_keeps_the_message_id(plain_server: MailReceiver, clock: StepClock) -> None:
    channel = SmtpChannel("mail", smtp(plain_server.port), clock)
    notice = make_notice(addresses=ADDRESSES[:1], lang="en")
    assert (await channel.send(notice)).ok
    assert (await channel.send(notice)).ok
    ids = {msg["Message-ID"] for _, msg in plain_server.handler.messages}
    assert len(ids) == 1  # a mailbox drops the second copy
    other = make_notice(addresses=ADDRESSES[:1], key="another-notice")
    assert (await channel.send(other)).ok
    assert plain_server.handler.messages[-1][1]["Message-ID"] not in ids
    assert (
        plain_server.handler.messages[0][1]["Subject"] == "CRITICAL · Alert: 1号冷藏柜 (食堂后厨)"
    )


async def test_starttls_with_login(cert: tuple[Path, Path], clock: StepClock) -> None:
    with MailReceiver("starttls", cert, user="robot", password="s3cret") as server:
        config = smtp(
            server.port,
            security="starttls",
            username="robot",
            password="s3cret",
            ca_file=str(cert[0]),
        )
        delivery = await SmtpChannel("mail", config, clock).send(make_notice(addresses=ADDRESSES))
        assert delivery.ok, delivery.reason
        assert len(server.handler.messages) == 1

        wrong = config.model_copy(update={"password": SecretStr("nope")})
        refused = await SmtpChannel("mail", wrong, clock).send(make_notice(addresses=ADDRESSES))
        assert (refused.ok, refused.permanent, refused.status) == (False, True, 535)
        assert "login refused" in refused.reason


async def test_untrusted_certificate_is_refused(cert: tuple[Path, Path], clock: StepClock) -> None:
    with MailReceiver("starttls", cert) as server:
        config = smtp(server.port, security="starttls")  # the system CAs do not know it
        delivery = await SmtpChannel("mail", config, clock).send(make_notice(addresses=ADDRESSES))
        assert (delivery.ok, delivery.permanent) == (False, True)
        assert "certificate" in delivery.reason
        assert server.handler.messages == []


async def test_implicit_tls(cert: tuple[Path, Path], clock: StepClock) -> None:
    with MailReceiver("ssl", cert) as server:
        config = smtp(server.port, security="ssl", ca_file=str(cert[0]))
        delivery = await SmtpChannel("mail", config, clock).send(make_notice(addresses=ADDRESSES))
        assert delivery.ok, delivery.reason
        assert len(server.handler.messages) == 1


async def test_refused_recipients(plain_server: MailReceiver, clock: StepClock) -> None:
    plain_server.handler.refuse = {ADDRESSES[1]}
    channel = SmtpChannel("mail", smtp(plain_server.port), clock)
    partly = await channel.send(make_notice(addresses=ADDRESSES))
    assert partly.ok and "manager@school.example.cn (550)" in partly.reason
    assert plain_server.handler.messages[0][0].rcpt_tos == [ADDRESSES[0]]
    nobody = await channel.send(make_notice(addresses=ADDRESSES[1:]))
    assert (nobody.ok, nobody.permanent) == (False, True)
    assert "all recipients refused" in nobody.reason


async def test_no_address_and_no_server(clock: StepClock) -> None:
    channel = SmtpChannel("mail", smtp(free_port()), clock)
    empty = await channel.send(make_notice())
    assert (empty.ok, empty.permanent) == (False, True) and "no e-mail address" in empty.reason
    down = await channel.send(make_notice(addresses=ADDRESSES))
    assert (down.ok, down.permanent) == (False, False) and "unreachable" in down.reason
