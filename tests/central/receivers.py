"""Real local receivers for delivery tests: an HTTP server that records every request and answers
in each robot's documented reply format (or as told: an errcode, a 500, down), and an aiosmtpd
SMTP server on a free port that keeps every message it accepts."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

OK_REPLIES: dict[str, dict[str, Any]] = {
    "wecom": {"errcode": 0, "errmsg": "ok"},
    "dingtalk": {"errcode": 0, "errmsg": "ok"},
    "feishu": {"code": 0, "msg": "success", "data": {}},
    "webhook": {"ok": True},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Hit:
    """One request the receiver got."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


Reply = Callable[[Hit], tuple[int, bytes]]


def ok_reply(hit: Hit) -> tuple[int, bytes]:
    """The documented success reply of the service the path names (``/wecom/...`` etc.)."""
    service = hit.path.strip("/").split("/", 1)[0]
    return 200, json.dumps(OK_REPLIES.get(service, {"ok": True})).encode()


@dataclass
class HttpReceiver:
    """A threaded HTTP server on 127.0.0.1 that records POSTs; ``reply`` decides the answer."""

    port: int = field(default_factory=free_port)
    reply: Reply = ok_reply
    hits: list[Hit] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> HttpReceiver:
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("content-length", "0"))
                parts = urlsplit(self.path)
                hit = Hit(
                    parts.path,
                    {k: v[0] for k, v in parse_qs(parts.query).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(n),
                )
                status, body = rec.reply(hit)
                with rec._lock:
                    rec.hits.append(hit)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def taken(self) -> list[Hit]:
        with self._lock:
            return list(self.hits)


class _Keep:
    def __init__(self, box: list[EmailMessage]) -> None:
        self.box = box

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.box.append(msg)
        return "250 OK"

    async def handle_RCPT(
        self, server: object, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("nobody@"):
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


class SmtpReceiver:
    """An aiosmtpd server on a free port (no TLS, no login); ``box`` holds accepted messages."""

    def __init__(self) -> None:
        self.port = free_port()
        self.box: list[EmailMessage] = []
        self._ctl = Controller(_Keep(self.box), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpReceiver:
        self._ctl.start()
        return self

    def stop(self) -> None:
        self._ctl.stop()
