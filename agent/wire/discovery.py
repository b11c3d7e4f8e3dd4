"""Home Assistant MQTT discovery: the retained entity configs that announce a box to Home Assistant.

Each entity is one retained QoS 1 message on ``<discovery_prefix>/<component>/<device_id>/<object_id>
/config`` whose JSON (with Home Assistant's abbreviations: ``~`` base topic, ``stat_t``, ``val_tpl``,
``avty_t``, ``uniq_id``, ``dev``...) points at the box's own event topics (``~`` is
``<prefix>/<site>/<desk>``): nothing new is published for Home Assistant, its templates read the
events of docs/EVENTS.md. Every entity shares one ``dev`` block and is available while the retained
``status`` says ``online`` (``stopping`` and the Will ``offline`` both map to unavailable).

Entities (only those the box can measure, from :class:`Entities`):

- ``sensor/body_temperature``: ``estimate_c`` of ``temperature`` results (invalid ones skipped);
- ``binary_sensor/fever``: on while a ``fever`` alert is raised (cleared when the person leaves);
- ``sensor/mask_compliance``: % of the patients' faces seen masked in each periodic ``mask`` window;
- ``sensor/occupancy`` (people in view) and ``sensor/occupancy_<zone>`` per configured zone, from
  ``occupancy`` change events (the periodic ones carry window maxima, not the current count);
- ``binary_sensor/desk_attended`` (staff zones configured): somebody stands in a staff zone;
- ``sensor/open_alerts``: alerts raised and not yet cleared, counted from ``alert`` events
  (:data:`OPEN_ALERTS_TEMPLATE`).

A template that renders nothing (an alert of another type, a change event where a window is read)
is ignored by Home Assistant, which keeps the entity's state.

Removal: an empty retained payload on a config topic deletes the entity. :class:`Discovery` keeps
the topics it published in a marker file (``<state_dir>/ha-discovery.json``, written before
publishing, rewritten once the broker acknowledged them), so switching discovery off, renaming a
zone or disabling a device removes exactly the entities announced before, and a box that never
enabled discovery sends nothing.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.wire.config import HomeAssistantConfig
from agent.wire.contract import Identity, WireMessage

log = logging.getLogger(__name__)

MARKER = "ha-discovery.json"
"""Name of the marker file in ``runtime.state_dir``: the config topics published so far."""
MANUFACTURER = "triage-agent"
MODEL = "Triage desk box"


@dataclass(frozen=True, slots=True)
class Entities:
    """What this box measures, hence which entities it announces."""

    temperature: bool
    """The thermometer is enabled: body temperature and fever."""
    vision: bool
    """The camera is enabled: mask compliance and occupancy."""
    zones: tuple[str, ...] = ()
    """Configured zone names: one occupancy sensor each."""
    staff_zones: tuple[str, ...] = ()
    """Names of the ``staff`` zones: the desk attended sensor when there is one."""


@dataclass(frozen=True, slots=True)
class Entity:
    """One Home Assistant entity: component, object id, and its abbreviated config fields."""

    component: str
    object_id: str
    fields: dict[str, Any]


OPEN_ALERTS_TEMPLATE = (
    "{{ [(this.state | int(0)) + (1 if value_json.state == 'raised' else -1), 0] | max }}"
)
"""Open alerts counted by Home Assistant itself (``this`` is the entity's own state): plus one per
raise, minus one per clear, never below 0. No event carries the count (the ``health`` payload has
no room left within 512 bytes). Alerts open across an agent restart keep their id and are not raised
again, but a duplicate delivery (at-least-once) or alert events Home Assistant missed while it was
down (they are not retained) skew the count until clears bring it back to 0; the district side's
figures are authoritative."""


def _only_changes(expr: str) -> str:
    """A template rendering ``expr`` for occupancy change events only (nothing for periodic ones)."""
    return "{% if value_json.window_s is not defined %}{{ " + expr + " }}{% endif %}"


def entities(wanted: Entities) -> list[Entity]:
    """The entities of a box, in a stable order."""
    out: list[Entity] = []
    if wanted.temperature:
        out.append(
            Entity(
                "sensor",
                "body_temperature",
                {
                    "name": "Body temperature",
                    "stat_t": "~/temperature",
                    "val_tpl": "{% if value_json.result != 'invalid' %}"
                    "{{ value_json.estimate_c }}{% endif %}",
                    "dev_cla": "temperature",
                    "unit_of_meas": "°C",
                    "stat_cla": "measurement",
                },
            )
        )
        out.append(
            Entity(
                "binary_sensor",
                "fever",
                {
                    "name": "Fever",
                    "stat_t": "~/alert",
                    "val_tpl": "{% if value_json.alert == 'fever' %}"
                    "{{ 'ON' if value_json.state == 'raised' else 'OFF' }}{% endif %}",
                    "dev_cla": "problem",
                },
            )
        )
    if wanted.vision:
        out.append(
            Entity(
                "sensor",
                "mask_compliance",
                {
                    "name": "Mask compliance",
                    "stat_t": "~/mask",
                    "val_tpl": "{% if value_json.window_s is defined and value_json.faces > 0 %}"
                    "{{ (100 * value_json.masked / value_json.faces) | round | int }}{% endif %}",
                    "unit_of_meas": "%",
                    "stat_cla": "measurement",
                    "ic": "mdi:face-mask",
                },
            )
        )
        out.append(
            Entity(
                "sensor",
                "occupancy",
                {
                    "name": "People in view",
                    "stat_t": "~/occupancy",
                    "val_tpl": "{{ value_json.count }}",
                    "stat_cla": "measurement",
                    "ic": "mdi:account-group",
                },
            )
        )
        for zone in wanted.zones:
            out.append(
                Entity(
                    "sensor",
                    f"occupancy_{zone}",
                    {
                        "name": f"People in {zone}",
                        "stat_t": "~/occupancy",
                        "val_tpl": _only_changes(f"value_json.zones['{zone}']"),
                        "stat_cla": "measurement",
                        "ic": "mdi:account-group",
                    },
                )
            )
        if wanted.staff_zones:
            staff = " + ".join(f"value_json.zones['{z}']" for z in wanted.staff_zones)
            out.append(
                Entity(
                    "binary_sensor",
                    "desk_attended",
                    {
                        "name": "Desk attended",
                        "stat_t": "~/occupancy",
                        "val_tpl": _only_changes(f"'ON' if ({staff}) > 0 else 'OFF'"),
                        "dev_cla": "occupancy",
                    },
                )
            )
    out.append(
        Entity(
            "sensor",
            "open_alerts",
            {
                "name": "Open alerts",
                "stat_t": "~/alert",
                "val_tpl": OPEN_ALERTS_TEMPLATE,
                "stat_cla": "measurement",
                "ic": "mdi:alert",
            },
        )
    )
    return out


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


def config_document(identity: Identity, entity: Entity, version: str) -> dict[str, Any]:
    """The abbreviated discovery config of one entity."""
    return {
        "~": f"{identity.prefix}/{identity.site}/{identity.desk}",
        **entity.fields,
        "uniq_id": f"{identity.device}_{entity.object_id}",
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
        for e in entities(wanted)
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
    """What the publisher sends for Home Assistant: configs on connect and on Home Assistant's
    ``online`` birth, removals of configs no longer wanted; and what it subscribes to."""

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
        self._marker = DiscoveryMarker(state_dir)
        self._lock = threading.Lock()

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """Topics to subscribe to on every connect (Home Assistant's birth topic when enabled)."""
        return (self.birth_topic,) if self.cfg.enabled else ()

    def topics(self) -> list[str]:
        """The config topics this box announces now."""
        return [m.topic for m in self._configs]

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
        return removal_messages(stale) + self._configs

    def on_message(self, topic: str, payload: bytes) -> list[WireMessage]:
        """Home Assistant's birth ``online`` asks for every config again; anything else: nothing."""
        if self.cfg.enabled and topic == self.birth_topic and payload.strip() == b"online":
            return list(self._configs)
        return []

    def acknowledged(self) -> None:
        """The broker acknowledged a batch from :meth:`on_connect`: record exactly what is
        announced now (nothing, once the removals of a switched-off box are through)."""
        with self._lock:
            self._marker.save(self.topics())
