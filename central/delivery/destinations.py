"""Where messages go: :class:`Destination` (a channel, its address and signing secret, the
recipients' language), checked when configured, identified by :func:`Destination.key` (a hash,
so the queue's uniqueness never depends on how a secret is spelled in a log) and shown redacted
(:func:`redact`): a robot's webhook URL carries its key, so logs and pages show only the host and
the key's last four characters."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Final, Literal, get_args
from urllib.parse import parse_qsl, urlsplit

from central.i18n import LOCALES

Channel = Literal["wecom", "dingtalk", "feishu", "email", "webhook"]
CHANNELS: Final[tuple[Channel, ...]] = get_args(Channel)

_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


class DestinationError(ValueError):
    """A destination that cannot be used; the message names the field."""


@dataclass(frozen=True)
class Destination:
    """One recipient: a group robot, a mailbox or a JSON webhook."""

    channel: Channel
    address: str
    locale: str
    secret: str = field(default="", repr=False)
    name: str = ""
    """A label for pages (the group's name, the clinic's recipient)."""

    def key(self) -> str:
        """Stable identity of the destination (sha256 of channel and address), for the queue."""
        return hashlib.sha256(f"{self.channel}\n{self.address}".encode()).hexdigest()

    def shown(self) -> str:
        """The destination without its secrets, for logs and pages."""
        label = f"{self.name}: " if self.name else ""
        return (label + redact(self.channel, self.address))[:200]

    def __repr__(self) -> str:
        return f"Destination({self.shown()!r}, locale={self.locale!r})"


def _tail(secret: str) -> str:
    return f"…{secret[-4:]}" if len(secret) > 8 else "…"


def redact(channel: str, address: str) -> str:
    """``wecom qyapi.weixin.qq.com key=…3f9a``; an e-mail address is shown as it is."""
    if channel == "email":
        return f"email {address}"
    parts = urlsplit(address)
    host = parts.hostname or "?"
    if parts.port:
        host = f"{host}:{parts.port}"
    query = dict(parse_qsl(parts.query))
    for name in ("key", "access_token", "token"):
        if name in query:
            return f"{channel} {host} {name}={_tail(query[name])}"
    last = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if channel == "feishu" or len(last) >= 16:
        return f"{channel} {host} …/{_tail(last)}"
    return f"{channel} {host}{parts.path}"


def check_destination(
    channel: str, address: str, locale: str, secret: str = "", name: str = "", where: str = ""
) -> Destination:
    """A :class:`Destination`, or :class:`DestinationError` naming ``where`` and what is wrong
    (never the secret)."""
    at = f"{where}: " if where else ""
    if channel not in CHANNELS:
        raise DestinationError(f"{at}channel {channel!r} is not one of {', '.join(CHANNELS)}")
    address = address.strip()
    if channel == "email":
        if not _EMAIL.match(address):
            raise DestinationError(f"{at}{address!r} is not an e-mail address")
    else:
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DestinationError(
                f"{at}the {channel} address is not an http(s) URL ({redact(channel, address)})"
            )
        if channel == "wecom" and "key=" not in parts.query:
            raise DestinationError(f"{at}a WeCom robot URL carries its key: ...send?key=...")
        if channel == "dingtalk" and "access_token=" not in parts.query:
            raise DestinationError(
                f"{at}a DingTalk robot URL carries its token: ...robot/send?access_token=..."
            )
    norm = locale.strip().replace("-", "_")
    if norm not in LOCALES:
        raise DestinationError(f"{at}language {locale!r} is not one of {', '.join(LOCALES)}")
    if secret and channel not in ("dingtalk", "feishu", "webhook"):
        raise DestinationError(f"{at}a signing secret is for dingtalk, feishu or webhook only")
    return Destination(channel, address, norm, secret, name)  # type: ignore[arg-type,unused-ignore]
