"""E-mail deliveries: one message per recipient, a plain-text part and the HTML notice, over SMTP.

Python's ``smtplib`` is used rather than ``apprise``: ``apprise.Apprise.notify`` answers one
``True``/``False`` for a whole send and writes the reason only to its log, while the queue must
record a short reason per message and tell a permanent refusal (5xx: an unknown mailbox, a refused
sender) from a passing one (4xx, a server that is down), which ``smtplib`` reports as exceptions
with the server's code. It also talks to a local relay on any port with or without TLS
(``tls = "none" | "starttls" | "ssl"``), as a district's mail relay and the tests need.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal

from central.delivery.channels import SendError
from central.delivery.destinations import Destination
from central.delivery.message import Message

Tls = Literal["none", "starttls", "ssl"]


@dataclass(frozen=True)
class SmtpSettings:
    """The mail relay deliveries go through."""

    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "triage-central@localhost"
    username: str = ""
    password: str = field(default="", repr=False)
    tls: Tls = "none"
    timeout_s: float = 20.0


def compose(settings: SmtpSettings, dest: Destination, msg: Message, ref: str) -> EmailMessage:
    """The e-mail: subject = title, a text/plain part and (when there is one) a text/html part."""
    mail = EmailMessage()
    mail["Subject"] = msg.title
    mail["From"] = settings.sender
    mail["To"] = dest.address
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(idstring=ref.replace(":", ".")[:40] or None)
    mail["Content-Language"] = dest.locale.replace("_", "-")
    text = msg.text + (f"\n\n{msg.more}: {msg.url}\n" if msg.url else "\n")
    mail.set_content(text)
    if msg.html:
        mail.add_alternative(msg.html, subtype="html")
    return mail


def send_mail(settings: SmtpSettings, dest: Destination, msg: Message, ref: str = "") -> None:
    """Send one e-mail; :class:`SendError` (permanent for a 5xx refusal) unless accepted."""
    mail = compose(settings, dest, msg, ref)
    try:
        if settings.tls == "ssl":
            ctx = ssl.create_default_context()
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout_s, context=ctx
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
        with client:
            if settings.tls == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.username:
                client.login(settings.username, settings.password)
            client.send_message(mail)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [c for c, _ in exc.recipients.values()]
        raise SendError(
            f"SMTP refused the recipient ({', '.join(map(str, codes))})",
            permanent=all(c >= 500 for c in codes),
        ) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise SendError(f"SMTP login refused ({exc.smtp_code})", permanent=True) from None
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else ""
        )
        raise SendError(
            f"SMTP {exc.smtp_code} {text[:100]}".strip(), permanent=exc.smtp_code >= 500
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise SendError(f"cannot reach the mail relay ({why})") from None
