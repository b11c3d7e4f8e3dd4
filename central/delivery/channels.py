"""The chat robots and the JSON webhook, each in its service's documented format, over HTTP.

- **WeCom (企业微信) group robot**: ``POST <url ...send?key=KEY>`` with
  ``{"msgtype": "markdown", "markdown": {"content": ...}}`` (at most 4096 bytes of UTF-8);
  the reply ``{"errcode": 0, "errmsg": "ok"}`` means sent, any other ``errcode`` is a failure even
  with HTTP 200.
- **DingTalk (钉钉) group robot**: ``POST <url ...robot/send?access_token=T>`` with
  ``{"msgtype": "markdown", "markdown": {"title": ..., "text": ...}}`` (at most 20000 bytes);
  with a signing secret the URL gets ``&timestamp=<ms>&sign=<urlencoded base64 HMAC-SHA256 of
  "<ms>\\n<secret>" keyed by the secret>``; ``errcode`` 0 means sent.
- **Feishu / Lark (飞书) custom bot**: ``POST <url .../bot/v2/hook/ID>`` with
  ``{"msg_type": "interactive", "card": {"header": ..., "elements": [{"tag": "markdown", ...}]}}``
  (the request at most 20 KB); with a signing secret the body also holds ``"timestamp"`` (seconds)
  and ``"sign"`` (base64 HMAC-SHA256 keyed by ``"<s>\\n<secret>"`` over an empty message);
  ``code`` 0 means sent.
- **Generic JSON webhook** (docs/CENTRAL.md, "Deliveries"): ``POST`` of
  ``{"schema": "triage-central.delivery/1", ...}``; with a secret the headers
  ``X-Triage-Timestamp`` and ``X-Triage-Signature: sha256=<hex HMAC-SHA256 of "<ts>.<body>">``;
  any 2xx means delivered.

A failure raises :class:`SendError` with a short message that never holds the URL or a secret,
and whether trying again could help (``permanent``: a revoked key, a refused signature, a
malformed request go to the dead letters at once; a receiver that is down, a 5xx or a rate limit
is tried again with backoff; ``throttled``: a rate limit, paced by central/delivery/pacing.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote_plus

from central.delivery.destinations import Destination
from central.delivery.message import Message, fit

TIMEOUT_S: Final = 10.0
WECOM_MARKDOWN_BYTES: Final = 4096
DINGTALK_MARKDOWN_BYTES: Final = 20000
FEISHU_CARD_BYTES: Final = 18000
"""The request may be 20 KB; the card's header and JSON escaping take the rest."""
WEBHOOK_BYTES: Final = 64 * 1024
WEBHOOK_SCHEMA: Final = "triage-central.delivery/1"

# Codes after which trying again cannot help (documented by each service).
_PERMANENT: Final[dict[str, frozenset[int]]] = {
    "wecom": frozenset({93000, 40008, 40058, 44004, 301002}),
    "dingtalk": frozenset({300001, 310000, 400013, 400101, 400102}),
    "feishu": frozenset({9499, 19001, 19021, 19022, 19024}),
}


# Codes by which a service says the robot sends too fast (central/delivery/pacing.py).
_THROTTLED: Final[dict[str, frozenset[int]]] = {
    "wecom": frozenset({45009}),
    "dingtalk": frozenset({130101}),
    "feishu": frozenset({11232, 230020}),
}


class SendError(Exception):
    """A delivery attempt failed; ``str()`` is short and holds no secret. ``permanent``: trying
    again cannot help; ``throttled``: the service refused it as sent too fast (HTTP 429 or its
    rate-limit code), so the destination is left alone for the service's cool-down."""

    def __init__(self, message: str, permanent: bool = False, throttled: bool = False) -> None:
        super().__init__(message[:280])
        self.permanent = permanent
        self.throttled = throttled


@dataclass(frozen=True)
class Request:
    """What is posted: the URL (with any signature) and the JSON body and headers."""

    url: str
    body: bytes
    headers: Mapping[str, str]


def _json(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def dingtalk_sign(secret: str, ms: int) -> str:
    """DingTalk's ``sign`` query value for ``ms`` (milliseconds), URL-encoded."""
    mac = hmac.new(secret.encode(), f"{ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(mac).decode())


def feishu_sign(secret: str, s: int) -> str:
    """Feishu's ``sign`` for ``s`` (seconds): the key is ``"<s>\\n<secret>"``, the message empty."""
    mac = hmac.new(f"{s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def webhook_signature(secret: str, ts: int, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``"<ts>." + body`` keyed by the secret."""
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def build(
    dest: Destination, msg: Message, *, kind: str = "", ref: str = "", now: float | None = None
) -> Request:
    """The request ``dest``'s service documents for ``msg`` (signed when it has a secret)."""
    now = time.time() if now is None else now
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if dest.channel == "wecom":
        content = fit(msg.markdown, WECOM_MARKDOWN_BYTES, msg.url, msg.more, markdown=True)
        body = _json({"msgtype": "markdown", "markdown": {"content": content}})
        return Request(dest.address, body, headers)
    if dest.channel == "dingtalk":
        text = fit(msg.markdown, DINGTALK_MARKDOWN_BYTES, msg.url, msg.more, markdown=True)
        body = _json({"msgtype": "markdown", "markdown": {"title": msg.title, "text": text}})
        url = dest.address
        if dest.secret:
            ms = int(now * 1000)
            url += f"&timestamp={ms}&sign={dingtalk_sign(dest.secret, ms)}"
        return Request(url, body, headers)
    if dest.channel == "feishu":
        content = fit(msg.markdown, FEISHU_CARD_BYTES, msg.url, msg.more, markdown=True)
        card: dict[str, object] = {
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": True},
                "header": {"title": {"tag": "plain_text", "content": msg.title}},
                "elements": [{"tag": "markdown", "content": content}],
            },
        }
        if dest.secret:
            s = int(now)
            card = {"timestamp": str(s), "sign": feishu_sign(dest.secret, s), **card}
        return Request(dest.address, _json(card), headers)
    if dest.channel == "webhook":
        doc = {
            "schema": WEBHOOK_SCHEMA,
            "id": ref,
            "kind": kind,
            "locale": dest.locale,
            "title": msg.title,
            "text": fit(msg.text, WEBHOOK_BYTES // 2, msg.url, msg.more, markdown=False),
            "markdown": fit(msg.markdown, WEBHOOK_BYTES // 2, msg.url, msg.more, markdown=True),
            "url": msg.url,
            "sent_at": round(now, 3),
        }
        body = _json(doc)
        if dest.secret:
            ts = int(now)
            headers["X-Triage-Timestamp"] = str(ts)
            headers["X-Triage-Signature"] = webhook_signature(dest.secret, ts, body)
        return Request(dest.address, body, headers)
    raise SendError(f"{dest.channel} is not an HTTP channel", permanent=True)


def _reply(channel: str, status: int, raw: bytes) -> None:
    """Raise :class:`SendError` unless ``raw`` is the service's success reply."""
    if channel == "webhook":
        return
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SendError(f"HTTP {status}: the reply is not JSON") from None
    if not isinstance(doc, dict):
        raise SendError(f"HTTP {status}: the reply is not a JSON object")
    field, msg_field = ("code", "msg") if channel == "feishu" else ("errcode", "errmsg")
    code = doc.get(field)
    if code is None and channel == "feishu":  # the older reply form
        code, msg_field = doc.get("StatusCode"), "StatusMessage"
    if code == 0:
        return
    if not isinstance(code, int):
        raise SendError(f"HTTP {status}: the reply has no {field}")
    text = str(doc.get(msg_field, ""))[:160]
    raise SendError(
        f"{field} {code}: {text}",
        permanent=code in _PERMANENT.get(channel, ()),
        throttled=code in _THROTTLED.get(channel, ()),
    )


def post(req: Request, channel: str, timeout: float = TIMEOUT_S) -> None:
    """Send one request; :class:`SendError` unless the service says it was accepted."""
    if not req.url.startswith(("http://", "https://")):
        raise SendError("the address is not an http(s) URL", permanent=True)
    r = urllib.request.Request(req.url, data=req.body, headers=dict(req.headers), method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:  # noqa: S310 - http(s) checked
            status = resp.status
            raw = resp.read(65536)
    except urllib.error.HTTPError as exc:
        code = exc.code
        permanent = code in (400, 401, 403, 404, 410, 413)
        raise SendError(
            f"HTTP {code} {exc.reason}"[:120], permanent=permanent, throttled=code == 429
        ) from None
    except urllib.error.URLError as exc:
        raise SendError(f"cannot reach the receiver ({_reason(exc.reason)})") from None
    except TimeoutError:
        raise SendError(f"no answer within {timeout:g} s") from None
    except (OSError, ValueError) as exc:
        raise SendError(f"connection failed ({type(exc).__name__})") from None
    if not 200 <= status < 300:
        raise SendError(f"HTTP {status}")
    _reply(channel, status, raw)


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    if isinstance(reason, TimeoutError | socket.timeout):
        return "timed out"
    return type(reason).__name__ if not isinstance(reason, str) else reason[:80]
