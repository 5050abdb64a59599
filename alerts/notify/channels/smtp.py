"""E-mail over SMTP: a multipart message (plain text and escaped HTML) to the notice's
addresses, sent by the standard library's smtplib in a worker thread (its calls block).
STARTTLS (RFC 3207) or implicit TLS (RFC 8314 section 3.3, port 465) verify the server's
certificate (the system's CAs or `ca_file`); `plain` is for a relay on the same host and tests.

The Message-ID is derived from the notice's idempotency key, so a retry after a timeout carries
the same id and a mailbox or list manager can drop the duplicate (RFC 5322 section 3.6.4).
Reply codes decide what a failure means (RFC 5321 section 4.2.1): 4yz transient, 5yz permanent.
"""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from alerts.notify.channels.config import SmtpConfig
from alerts.notify.model import Delivery, Notice
from alerts.notify.render import render_html, render_text, subject
from core.clock import Clock

__all__ = ["SmtpChannel", "message_id"]


def message_id(key: str, sender: str) -> str:
    """A stable Message-ID for an idempotency key, in the sender's domain."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}.alert@{sender.rsplit('@', 1)[-1]}>"


class SmtpChannel:
    """One mail server and sender."""

    def __init__(self, name: str, config: SmtpConfig, clock: Clock):
        self._name = name
        self._config = config
        self._clock = clock

    @property
    def name(self) -> str:
        return self._name

    def message(self, notice: Notice) -> EmailMessage:
        config = self._config
        msg = EmailMessage()
        msg["From"] = formataddr((config.sender_name, config.sender))
        msg["To"] = ", ".join(notice.addresses)
        msg["Subject"] = subject(notice)
        msg["Date"] = format_datetime(self._clock.now())
        msg["Message-ID"] = message_id(notice.key, config.sender)
        msg["X-Canteen-Idempotency-Key"] = notice.key
        msg["Content-Language"] = "en" if notice.lang == "en" else "zh-CN"
        # base64 bodies pass any relay, 8BITMIME or not (RFC 2045 section 6.8).
        msg.set_content(render_text(notice), cte="base64")
        msg.add_alternative(render_html(notice), subtype="html", cte="base64")
        return msg

    async def send(self, notice: Notice) -> Delivery:
        if not notice.addresses:
            return Delivery(
                ok=False, reason="no e-mail address for the notice's recipients", permanent=True
            )
        msg = self.message(notice)
        try:
            refused = await asyncio.to_thread(self._deliver, msg, list(notice.addresses))
        except smtplib.SMTPException as exc:
            return _smtp_failure(exc)
        except ssl.SSLCertVerificationError as exc:
            return Delivery(ok=False, reason=f"server certificate refused: {exc}", permanent=True)
        except OSError as exc:  # refused connection, reset, timeout, TLS handshake
            return Delivery(ok=False, reason=f"mail server unreachable: {exc}")
        if refused:
            listed = ", ".join(f"{addr} ({code})" for addr, (code, _) in refused.items())
            return Delivery(ok=True, reason=f"some recipients refused: {listed}")
        return Delivery(ok=True)

    def _deliver(self, msg: EmailMessage, to: list[str]) -> dict[str, tuple[int, bytes]]:
        config = self._config
        port = config.effective_port
        context = ssl.create_default_context(cafile=config.ca_file)
        smtp: smtplib.SMTP
        if config.security == "ssl":
            smtp = smtplib.SMTP_SSL(config.host, port, timeout=config.timeout_s, context=context)
        else:
            smtp = smtplib.SMTP(config.host, port, timeout=config.timeout_s)
        with smtp:
            smtp.ehlo()
            if config.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if config.username is not None and config.password is not None:
                smtp.login(config.username, config.password.get_secret_value())
            return smtp.send_message(msg, from_addr=config.sender, to_addrs=to)


def _smtp_failure(exc: smtplib.SMTPException) -> Delivery:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        listed = ", ".join(f"{addr} ({code})" for addr, (code, _) in exc.recipients.items())
        permanent = all(500 <= code < 600 for code in codes)
        return Delivery(ok=False, reason=f"all recipients refused: {listed}", permanent=permanent)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return Delivery(ok=False, reason=f"server lacks a needed extension: {exc}", permanent=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        what = "login refused" if isinstance(exc, smtplib.SMTPAuthenticationError) else "refused"
        permanent = 500 <= exc.smtp_code < 600
        return Delivery(
            ok=False,
            reason=f"mail server {what}: {exc.smtp_code} {text}",
            status=exc.smtp_code,
            permanent=permanent,
        )
    # Disconnected mid-dialogue and the like: try again later.
    return Delivery(ok=False, reason=f"mail server dialogue failed: {type(exc).__name__}: {exc}")
