"""What one delivery carries, whatever the channel: :class:`Message` (a title, a Markdown body for
the robots, a plain-text body, an HTML body for e-mail, and the link to the full notice), and
fitting a body into a channel's size limit with a link to the full text (:func:`fit`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Final, Literal, get_args

Kind = Literal["summary", "notice", "closure", "test"]
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)
"""Group summary of a day, a clinic's full notice, a closure-order alert, a test message."""


class MessageError(ValueError):
    """A stored payload that is not a message (the row is sent to the dead letters, not retried)."""


@dataclass(frozen=True)
class Message:
    """One rendered message in one language."""

    title: str
    markdown: str
    text: str
    html: str = ""
    url: str = ""
    """The full notice (or day) page; the truncated forms link to it."""
    more: str = "Full text"
    """The link's words in the message's language, used when a body is cut."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @staticmethod
    def from_json(payload: str) -> Message:
        try:
            data = json.loads(payload)
            return Message(**{k: str(data.get(k, "")) for k in _FIELDS if k in data})
        except (ValueError, TypeError) as exc:
            raise MessageError(f"stored payload is not a message ({exc})") from None


_FIELDS: Final = ("title", "markdown", "text", "html", "url", "more")


def _cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, at a line end when one is near."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    head = raw[:limit].decode("utf-8", "ignore")
    nl = head.rfind("\n")
    return head[:nl] if nl > len(head) // 2 else head


def fit(body: str, limit: int, url: str, more: str, markdown: bool) -> str:
    """``body`` if it fits in ``limit`` UTF-8 bytes, else its head followed by a link to ``url``
    (so the reader finds the rest); never more than ``limit`` bytes."""
    if len(body.encode("utf-8")) <= limit:
        return body
    tail = (f"\n\n…… [{more}]({url})" if markdown else f"\n\n…… {more}: {url}") if url else "\n\n……"
    room = limit - len(tail.encode("utf-8"))
    if room <= 0:
        return _cut(tail.strip(), limit)
    return _cut(body, room).rstrip() + tail
