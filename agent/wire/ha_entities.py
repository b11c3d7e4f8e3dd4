"""The entities a box announces to Home Assistant and how each reads its value (a template on the
box's retained state document, :mod:`agent.wire.ha_state`, or on the retained ``health`` event).
Published by :mod:`agent.wire.discovery`; docs/INTEGRATION.md lists them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


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


STATE_TEMPLATE = "{{% if value_json.{0} is defined %}}{{{{ value_json.{0} }}}}{{% endif %}}"
"""A value from the box's retained state document; nothing when the box does not know it yet (Home
Assistant then keeps the entity's state)."""
TRIAGE_POINT = "triage_point"
"""The problem sensor of every ``setup`` alert but ``desk_unattended``: the triage point is not
working (camera covered, dark, blurred, moved or lost; thermometer lost; screening skipped)."""


def slug(text: str) -> str:
    """Home Assistant's entity-id form of ``text``: ``clinic-042-desk-1`` -> ``clinic_042_desk_1``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _problem(state: str, object_id: str, name: str, test: str) -> Entity:
    return Entity(
        "binary_sensor",
        object_id,
        {
            "name": name,
            "stat_t": state,
            "val_tpl": "{{ 'ON' if " + test + " else 'OFF' }}",
            "dev_cla": "problem",
        },
    )


def _is_open(alert: str) -> str:
    return f"(value_json.open.{alert} | default(0)) > 0"


def _sensor(state: str, object_id: str, name: str, key: str, **more: Any) -> Entity:
    return Entity(
        "sensor",
        object_id,
        {"name": name, "stat_t": state, "val_tpl": STATE_TEMPLATE.format(key), **more},
    )


def entities(wanted: Entities, state: str) -> list[Entity]:
    """The entities of a box, in a stable order. Every one but ``box_health`` (the retained
    ``health`` event) reads the box's retained state document on topic ``state``
    (:class:`DeskState`), so its value survives a restart of Home Assistant."""
    out: list[Entity] = []
    people = {"stat_cla": "measurement", "ic": "mdi:account-group"}
    if wanted.temperature:
        out.append(
            _sensor(
                state,
                "body_temperature",
                "Body temperature",
                "temperature",
                dev_cla="temperature",
                unit_of_meas="°C",
                stat_cla="measurement",
            )
        )
        out.append(_problem(state, "fever", "Fever", _is_open("fever")))
    if wanted.vision:
        out.append(
            _sensor(
                state,
                "mask_compliance",
                "Mask compliance",
                "mask_compliance",
                unit_of_meas="%",
                stat_cla="measurement",
                ic="mdi:face-mask",
            )
        )
        out.append(
            _sensor(
                state,
                "masks_worn_wrong",
                "Masks worn wrong",
                "masks_worn_wrong",
                stat_cla="measurement",
                ic="mdi:face-mask-outline",
            )
        )
        out.append(_sensor(state, "occupancy", "People in view", "people", **people))
        for zone in wanted.zones:
            zone_value = (
                "{% if value_json.zones is defined and value_json.zones['" + zone + "'] is defined"
                " %}{{ value_json.zones['" + zone + "'] }}{% endif %}"
            )
            out.append(
                Entity(
                    "sensor",
                    f"occupancy_{zone}",
                    {
                        "name": f"People in the {zone} zone",
                        "stat_t": state,
                        "val_tpl": zone_value,
                        **people,
                    },
                )
            )
        if wanted.staff_zones:
            out.append(
                Entity(
                    "binary_sensor",
                    "desk_attended",
                    {
                        "name": "Desk attended",
                        "stat_t": state,
                        "val_tpl": "{% if value_json.desk_attended is defined %}"
                        "{{ 'ON' if value_json.desk_attended else 'OFF' }}{% endif %}",
                        "dev_cla": "occupancy",
                    },
                )
            )
        out.append(
            _problem(state, "problem_unmasked", "Patient without a mask", _is_open("unmasked"))
        )
        if wanted.staff_zones:
            out.append(
                _problem(
                    state,
                    "problem_staff_unmasked",
                    "Staff without a mask",
                    _is_open("staff_unmasked"),
                )
            )
            out.append(
                _problem(
                    state,
                    "problem_desk_unattended",
                    "Triage desk unattended",
                    _is_open("desk_unattended"),
                )
            )
        out.append(_problem(state, "problem_crowding", "Crowding", _is_open("crowding")))
    triage_point = _problem(
        state,
        f"problem_{TRIAGE_POINT}",
        "Triage point not working",
        "value_json.setup | length > 0",
    )
    triage_point.fields.update(
        {"json_attr_t": state, "json_attr_tpl": "{{ {'problems': value_json.setup} | tojson }}"}
    )
    out.append(triage_point)
    out.append(_sensor(state, "open_alerts", "Open alerts", "open_alerts", stat_cla="measurement"))
    out[-1].fields["ic"] = "mdi:alert"
    out.append(
        Entity(
            "sensor",
            "box_health",
            {
                "name": "Box health",
                "stat_t": "~/health",
                "val_tpl": BOX_HEALTH_TEMPLATE,
                "json_attr_t": "~/health",
                "json_attr_tpl": BOX_HEALTH_ATTRIBUTES,
                "ic": "mdi:heart-pulse",
                "ent_cat": "diagnostic",
            },
        )
    )
    return out


BOX_HEALTH_TEMPLATE = (
    "{% set bad = value_json.sources.values() | rejectattr('state', 'in', ['ok', 'disabled'])"
    " | list %}"
    "{{ 'storage fault' if value_json.storage is defined else "
    "('degraded' if bad else 'ok') }}"
)
"""``ok``; ``degraded`` while a source is not delivering (starting, stale, disconnected, error);
``storage fault`` while the outbox cannot be written (``health.storage``)."""
BOX_HEALTH_ATTRIBUTES = (
    "{{ {'sources': value_json.sources,"
    " 'storage': value_json.storage | default('ok'),"
    " 'outbox_depth': value_json.outbox_depth,"
    " 'outbox_oldest_s': value_json.outbox_oldest_s | default(0),"
    " 'clock': value_json.clock | default('synchronised')} | tojson }}"
)
"""Attributes from the retained ``health`` event: each source's state, the storage fault (or
``ok``), the outbox depth and its oldest message's age, the clock."""
