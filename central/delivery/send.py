"""Sending what is due: :func:`send` passes one claimed delivery to its channel (HTTP robots and
webhooks in :mod:`central.delivery.channels`, e-mail in :mod:`central.delivery.mail`), and
:func:`drain` claims due deliveries and records each outcome until none is due. Logs name the
destination redacted, never its URL or secret."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from central.delivery import queue
from central.delivery.channels import SendError, build, post
from central.delivery.mail import SmtpSettings, send_mail
from central.delivery.message import Message, MessageError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Drained:
    """What one :func:`drain` did."""

    sent: int = 0
    retry: int = 0
    dead: int = 0

    @property
    def attempts(self) -> int:
        return self.sent + self.retry + self.dead


def send(c: queue.Claimed, smtp: SmtpSettings | None) -> None:
    """Deliver ``c`` once; :class:`SendError` if it was not accepted."""
    try:
        msg = Message.from_json(c.payload)
    except MessageError as exc:
        raise SendError(str(exc), permanent=True) from None
    if c.destination.channel == "email":
        if smtp is None:
            raise SendError("no mail relay is configured ([smtp] in the delivery settings)")
        send_mail(smtp, c.destination, msg, ref=f"{c.subject}.{c.pk}")
        return
    post(build(c.destination, msg, kind=c.kind, ref=f"{c.subject}#{c.pk}"), c.destination.channel)


def drain(
    engine: Engine,
    worker: str,
    policy: queue.Policy,
    smtp: SmtpSettings | None,
    *,
    batch: int = 20,
    stop: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.time,
    on_sent: Callable[[queue.Claimed], None] | None = None,
) -> Drained:
    """Send every due delivery (in batches of ``batch``) until none is due or ``stop()``;
    ``on_sent`` is called after each delivery is recorded as sent (its errors are logged, never
    undo the send)."""
    done = {"sent": 0, "retry": 0, "dead": 0}
    while not stop():
        claimed = queue.claim(engine, worker, batch, now=clock())
        if not claimed:
            break
        for c in claimed:
            shown = c.destination.shown()
            try:
                send(c, smtp)
            except SendError as exc:
                state = queue.failed(
                    engine, c, worker, str(exc), policy, permanent=exc.permanent, now=clock()
                )
                done[state] += 1
                level = logging.ERROR if state == "dead" else logging.WARNING
                log.log(
                    level, "delivery %d (%s) to %s: %s -> %s", c.pk, c.subject, shown, exc, state
                )
                continue
            queue.sent(engine, c, worker, now=clock())
            done["sent"] += 1
            log.info("delivery %d (%s) sent to %s", c.pk, c.subject, shown)
            if on_sent is not None:
                try:
                    on_sent(c)
                except Exception:
                    log.exception("after delivery %d was sent", c.pk)
    return Drained(**done)
