"""Home Assistant's values: the desk's state document kept from the stored events and published,
retained, whenever it changes (:mod:`agent.wire.ha_state`, :mod:`agent.wire.discovery`).

A listener of the pipeline (main loop thread): each event written to the outbox updates the
:class:`~agent.wire.ha_state.DeskState`; a changed document goes to the publisher at once (directly,
not through the outbox: it is a state, and only the latest one matters) and is kept by the
discovery, which sends it again after every connection and on Home Assistant's birth. The open
alerts carried over a restart (the alert book) are in it from the start.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.flow.alerts import AlertBook
from agent.flow.events import Event
from agent.flow.ports import Analyser
from agent.wire.discovery import Discovery
from agent.wire.ha_state import DeskState
from agent.wire.publisher import Publisher


class HomeAssistantState:
    """Pipeline listener: events -> the desk's state document -> a retained publish."""

    def __init__(self, discovery: Discovery, publisher: Publisher | None, desk: DeskState) -> None:
        self.discovery = discovery
        self.publisher = publisher
        self.desk = desk

    def hear(self, event: Event) -> None:
        """One stored event (main loop thread)."""
        if not self.desk.hear(event):
            return
        msg = self.discovery.state(self.desk.document())
        if msg is not None and self.publisher is not None:
            self.publisher.publish_now(msg)


def desk_state(staff_zones: Sequence[str], analysers: Sequence[Analyser]) -> DeskState:
    """The state to start from: the alerts the book carried over a restart are open."""
    book = next((a for a in analysers if isinstance(a, AlertBook)), None)
    opened = [(a.alert_id, a.alert) for a in book.open_alerts] if book is not None else []
    return DeskState(staff_zones, opened)
