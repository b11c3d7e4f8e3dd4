"""What a secret looks like and how it is masked before any text leaves the process.

Secrets are the broker password (``mqtt.password`` / ``TRIAGE_MQTT_PASSWORD``) and credentials inside
URLs (``rtsp://user:pass@camera/...``). :func:`redact` masks both in any text: the user-info of every
URL (:func:`redact_url`, the one URL redaction in the agent: the camera's label and its config
errors use it too) and each known secret value. Logs (a filter on the root handler), config error
messages, ``diag``, ``status`` and every payload go through it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
_URL_USERINFO = re.compile(
    r"(?<![A-Za-z0-9+.-])(?P<scheme>[A-Za-z][A-Za-z0-9+.-]{0,31}://)(?P<info>[^/?#\s'\"]{1,1024})@"
)
_known: set[str] = set()


def remember(secrets: Iterable[str | None]) -> None:
    """Add secret values (at least 3 characters) that :func:`redact` masks from now on."""
    _known.update(s for s in secrets if s and len(s) >= 3)


def redact_url(url: str) -> str:
    """``rtsp://user:pass@host/x`` -> ``rtsp://***@host/x`` (any text with URLs in it works too).

    The user-info runs to the last ``@`` before the path, so a password holding an ``@`` is masked
    whole, as a URL parser reads it."""
    return _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", url)


def redact(text: str, extra: Iterable[str | None] = ()) -> str:
    """Mask URL credentials, every remembered secret and ``extra`` secrets in ``text``."""
    out = redact_url(text)
    for secret in sorted(
        {*_known, *(s for s in extra if s and len(s) >= 3)}, key=len, reverse=True
    ):
        out = out.replace(secret, MASK)
    return out
