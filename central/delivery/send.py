"""Sending what is due: :func:`send` passes one claimed delivery to its channel (HTTP robots and
webhooks in :mod:`central.delivery.channels`, e-mail in :mod:`central.delivery.mail`), and
:func:`drain` claims due deliveries and records each outcome until none is due, at the pace each
robot allows (:mod:`central.delivery.pacing`). Logs name the destination redacted, never its URL
or secret."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from central.delivery import pacing, queue
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
    paced: int = 0
    """Put back unsent to keep a robot within its service's limit (not an attempt)."""

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
    done = {"sent": 0, "retry": 0, "dead": 0, "paced": 0}
    held: dict[str, float] = {}  # destination -> until when a refusal as too fast holds it
    while not stop():
        claimed = queue.claim(engine, worker, batch, now=clock())
        if not claimed:
            break
        for c in claimed:
            with pacing.turn(engine, c):  # the check, the send and its record: one worker at once
                outcome = _one(engine, c, worker, policy, smtp, held, clock)
            done[outcome] += 1
            if outcome == "sent" and on_sent is not None:
                try:
                    on_sent(c)
                except Exception:
                    log.exception("after delivery %d was sent", c.pk)
    return Drained(**done)


def _one(
    engine: Engine,
    c: queue.Claimed,
    worker: str,
    policy: queue.Policy,
    smtp: SmtpSettings | None,
    held: dict[str, float],
    clock: Callable[[], float],
) -> str:
    """Send ``c`` unless its robot must wait; record the outcome: sent, paced, retry or dead."""
    shown = c.destination.shown()
    now = clock()
    until = max(held.get(c.destination.key(), 0.0), now + pacing.wait_s(engine, c, now))
    if until > now:
        pacing.defer(engine, c, worker, until, f"paced: {until - now:.0f} s to wait")
        log.info("delivery %d (%s) to %s paced %.1f s", c.pk, c.subject, shown, until - now)
        return "paced"
    try:
        send(c, smtp)
    except SendError as exc:
        wait = pacing.cool_down_s(c.destination.channel) if exc.throttled else 0.0
        if exc.throttled:
            held[c.destination.key()] = clock() + wait
        state = queue.failed(
            engine, c, worker, str(exc), policy, permanent=exc.permanent, least_wait_s=wait,
            now=clock(),
        )  # fmt: skip
        level = logging.ERROR if state == "dead" else logging.WARNING
        log.log(level, "delivery %d (%s) to %s: %s -> %s", c.pk, c.subject, shown, exc, state)
        return state
    queue.sent(engine, c, worker, now=clock())
    log.info("delivery %d (%s) sent to %s", c.pk, c.subject, shown)
    return "sent"
