"""Home Assistant MQTT discovery: the retained entity configs that announce a box to Home Assistant.

Each entity is one retained QoS 1 message on ``<discovery_prefix>/<component>/<device_id>/<object_id>
/config`` (Home Assistant's abbreviations: ``~`` base topic, ``stat_t``, ``val_tpl``, ``avty_t``,
``uniq_id``, ``dev``...). Its entity id is set, not derived from its name:
``<component>.<device_id>_<object_id>`` in slug form (``sensor.clinic_042_desk_1_occupancy``,
:func:`entity_id`). Every entity shares one ``dev`` block and is available while the retained
``status`` says ``online`` (``stopping`` and the Will ``offline`` both map to unavailable).

Values survive a restart of Home Assistant: the entities read a **retained state document**
(:mod:`agent.wire.ha_state`) on ``<discovery_prefix>/triage/<device_id>/state``, published by the
service whenever a value changes, and ``box_health`` reads the retained ``health`` event.

Entities (only those the box can measure, from :class:`Entities`):

- ``sensor/body_temperature``: the last valid result's ``estimate_c``;
- ``binary_sensor/fever``: on while a ``fever`` alert is open (cleared when the person leaves);
- ``sensor/mask_compliance``: % of the patients' faces seen masked in the last ``mask`` window;
- ``sensor/occupancy`` (people in view now) and ``sensor/occupancy_<zone>`` per configured zone;
- ``binary_sensor/desk_attended`` (staff zones configured): somebody stands in a staff zone;
- one ``binary_sensor/problem_<kind>`` per problem a supervisor is told about, on while such an
  alert is open: ``problem_unmasked``, ``problem_crowding``, with a staff zone
  ``problem_staff_unmasked`` and ``problem_desk_unattended``, and always
  ``problem_triage_point`` (any other ``setup`` alert: camera covered, dark, blurred, moved or
  lost, thermometer lost, screening skipped; which ones in its ``problems`` attribute);
- ``sensor/open_alerts``: alerts open now, as the box's alert book knows them;
- ``sensor/box_health``: ``ok``, ``degraded`` (a source not delivering) or ``storage fault``, with
  each source's state, the storage fault, the outbox depth and its oldest message's age and the
  clock as attributes (from the retained ``health`` event).

A template that renders nothing (a value the box does not know yet after a start) is ignored by
Home Assistant, which keeps the entity's state.

Removal: an empty retained payload on a config topic deletes the entity. :class:`Discovery` keeps
the topics it published (configs and the state document) in a marker file
(``<state_dir>/ha-discovery.json``, written before publishing, rewritten once the broker
acknowledged them), so switching discovery off, renaming a zone or disabling a device removes
exactly the entities announced before, and a box that never enabled discovery sends nothing.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.wire.config import HomeAssistantConfig
from agent.wire.contract import Identity, WireMessage
from agent.wire.ha_entities import Entities, Entity, entities, slug

__all__ = ["MARKER", "Discovery", "Entities", "Entity", "config_messages", "entities"]

log = logging.getLogger(__name__)

MARKER = "ha-discovery.json"
"""Name of the marker file in ``runtime.state_dir``: the config topics published so far."""
MANUFACTURER = "triage-agent"
MODEL = "Triage desk box"


def config_topic(prefix: str, identity: Identity, entity: Entity) -> str:
    """``<discovery_prefix>/<component>/<device_id>/<object_id>/config``."""
    return f"{prefix}/{entity.component}/{identity.device}/{entity.object_id}/config"


def device_block(identity: Identity, version: str) -> dict[str, Any]:
    """The ``dev`` block every entity of this box shares."""
    return {
        "ids": [identity.device],
        "name": f"Triage {identity.site} {identity.desk}",
        "mf": MANUFACTURER,
        "mdl": MODEL,
        "sw": version,
    }


def entity_id(identity: Identity, entity: Entity) -> str:
    """The entity id Home Assistant gives it: ``<component>.<device_id>_<object_id>`` in its slug
    form, e.g. ``sensor.clinic_042_desk_1_occupancy`` (docs/INTEGRATION.md)."""
    return f"{entity.component}.{slug(identity.device)}_{slug(entity.object_id)}"


def state_topic(prefix: str, identity: Identity) -> str:
    """The retained state document Home Assistant's entities read:
    ``<discovery_prefix>/triage/<device_id>/state`` (within the box's discovery ACL line)."""
    return f"{prefix}/triage/{identity.device}/state"


def config_document(identity: Identity, entity: Entity, version: str) -> dict[str, Any]:
    """The abbreviated discovery config of one entity. The entity id is set, not derived from the
    name: ``obj_id`` (Home Assistant up to 2026.3) and ``default_entity_id`` (2025.10 on; older
    versions drop the key they do not know)."""
    eid = entity_id(identity, entity)
    return {
        "~": f"{identity.prefix}/{identity.site}/{identity.desk}",
        **entity.fields,
        "uniq_id": f"{identity.device}_{entity.object_id}",
        "obj_id": eid.split(".", 1)[1],
        "default_entity_id": eid,
        "avty_t": "~/status",
        "avty_tpl": "{{ 'online' if value_json.state == 'online' else 'offline' }}",
        "pl_avail": "online",
        "pl_not_avail": "offline",
        "dev": device_block(identity, version),
    }


def config_messages(
    prefix: str, identity: Identity, wanted: Entities, version: str
) -> list[WireMessage]:
    """The retained discovery configs of every entity of this box."""
    return [
        WireMessage(
            config_topic(prefix, identity, e),
            json.dumps(
                config_document(identity, e, version), separators=(",", ":"), ensure_ascii=False
            ).encode("utf-8"),
            retain=True,
        )
        for e in entities(wanted, state_topic(prefix, identity))
    ]


def removal_messages(topics: Sequence[str]) -> list[WireMessage]:
    """Empty retained payloads: Home Assistant deletes those entities, the broker the configs."""
    return [WireMessage(t, b"", retain=True) for t in topics]


class DiscoveryMarker:
    """The config topics this box published, persisted in ``runtime.state_dir``."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / MARKER

    def load(self) -> list[str]:
        """The topics recorded, or none (no file, or an unreadable one: logged)."""
        try:
            doc = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self.path, exc)
            return []
        topics = doc.get("topics") if isinstance(doc, dict) else None
        return [t for t in topics if isinstance(t, str)] if isinstance(topics, list) else []

    def save(self, topics: Sequence[str]) -> None:
        """Record ``topics`` (atomically); an empty list removes the file."""
        if not topics:
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"topics": sorted(set(topics))}), "utf-8")
        os.replace(tmp, self.path)


class Discovery:
    """What the publisher sends for Home Assistant: configs and the latest state document on
    connect and on Home Assistant's ``online`` birth, removals of topics no longer wanted; and what
    it subscribes to. :meth:`state` takes each new state document (main loop thread)."""

    def __init__(
        self,
        cfg: HomeAssistantConfig,
        identity: Identity,
        wanted: Entities,
        version: str,
        state_dir: Path,
    ) -> None:
        self.cfg = cfg
        self.birth_topic = f"{cfg.discovery_prefix}/status"
        self._configs = (
            config_messages(cfg.discovery_prefix, identity, wanted, version) if cfg.enabled else []
        )
        self._state_topic = state_topic(cfg.discovery_prefix, identity)
        self._state: WireMessage | None = None
        """The latest state document (None until the box knows something to show)."""
        self._marker = DiscoveryMarker(state_dir)
        self._lock = threading.Lock()

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """Topics to subscribe to on every connect (Home Assistant's birth topic when enabled)."""
        return (self.birth_topic,) if self.cfg.enabled else ()

    def topics(self) -> list[str]:
        """The retained topics this box announces now: every config, and the state document."""
        if not self._configs:
            return []
        return [*(m.topic for m in self._configs), self._state_topic]

    def state(self, doc: dict[str, Any]) -> WireMessage | None:
        """A new state document (:class:`agent.wire.ha_state.DeskState`): the retained message to
        publish now, None when discovery is off or nothing changed. Kept for the next connect."""
        if not self.cfg.enabled:
            return None
        payload = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        msg = WireMessage(self._state_topic, payload, retain=True)
        with self._lock:
            if self._state is not None and self._state.payload == payload:
                return None
            self._state = msg
        return msg

    def _current(self) -> list[WireMessage]:
        with self._lock:
            state = self._state
        return [*self._configs, *([state] if state is not None else [])]

    def on_connect(self) -> list[WireMessage]:
        """Messages to send after (re)connecting: removals of configs published before and no
        longer wanted, then every config. The marker is extended first, so a crash in between
        never forgets a published topic."""
        with self._lock:
            before = self._marker.load()
            current = self.topics()
            stale = [t for t in before if t not in current]
            if current:
                self._marker.save(before + current)
        return removal_messages(stale) + self._current()

    def on_message(self, topic: str, payload: bytes) -> list[WireMessage]:
        """Home Assistant's birth ``online`` asks for every config again; anything else: nothing."""
        if self.cfg.enabled and topic == self.birth_topic and payload.strip() == b"online":
            return self._current()
        return []

    def acknowledged(self) -> None:
        """The broker acknowledged a batch from :meth:`on_connect`: record exactly what is
        announced now (nothing, once the removals of a switched-off box are through)."""
        with self._lock:
            self._marker.save(self.topics())
