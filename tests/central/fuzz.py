"""Hypothesis strategies for what a box might send: random topics, random payloads, and events
whose envelope is right but whose every other field may hold any JSON value (the kind that passes
the collector's checks and reaches the pages)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from hypothesis import strategies as st

from tests.central.hostile import PREFIX, iso

KINDS = ["temperature", "alert", "occupancy", "status", "summary", "health", "mask", "diag"]
ALERTS = ["fever", "unmasked", "staff_unmasked", "desk_unattended", "crowding", "camera_covered",
          "camera_lost", "thermometer_lost", "made_up_alert", "x"]  # fmt: skip
FIELDS = {
    "temperature": ["result", "estimate_c", "object_c", "threshold_c"],
    "alert": ["value", "message", "zone", "family", "reason"],
    "occupancy": ["count", "max", "people", "window_s", "limit", "zone"],
    "status": ["reason", "health_every_s", "started"],
    "summary": ["window_s", "screened", "fevers", "invalid", "people", "arrivals",
                "max_occupancy", "alerts", "minutes", "period", "date", "start"],
    "health": ["sources", "outbox_depth", "evicted", "uptime_s"],
    "mask": ["faces", "masked", "unmasked"],
    "diag": ["at"],
}  # fmt: skip

leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "normal",
            "fever",
            "invalid",
            "raised",
            "cleared",
            "online",
            "offline",
            "day",
            "=cmd|' /C calc'!A0",
            "-1",
            "\x1b[2J",
            "2026-11-23",
        ]
    ),
)
json_value = st.recursive(
    leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
level = st.one_of(
    st.sampled_from(["clinic-001", "clinic-002", "desk-1", ".", "..", "s" * 65, "a b", ""]),
    st.text(
        alphabet=st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="/+#"),
        min_size=1,
        max_size=12,
    ),
)


@st.composite
def event_doc(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """An event with a valid envelope and random values in the other fields."""
    kind = draw(st.sampled_from(KINDS))
    doc: dict[str, Any] = {
        "v": 1,
        "id": uuid.uuid4().hex,
        "seq": draw(st.integers(min_value=1, max_value=10**6)),
        "ts": iso(time.time() - draw(st.integers(min_value=0, max_value=3 * 86400))),
        "device": "clinic-001-desk-1",
        "kind": kind,
    }
    if kind == "alert":
        doc["alert"] = draw(st.sampled_from(ALERTS))
        doc["state"] = draw(st.sampled_from(["raised", "cleared", "weird"]))
        doc["alert_id"] = draw(st.sampled_from(["a1", "a2", "a3", "b1"]))
    if kind == "status":
        doc["state"] = draw(st.sampled_from(["online", "offline", "stopping"]))
    for name in draw(st.lists(st.sampled_from(FIELDS[kind]), max_size=4)):
        doc[name] = draw(json_value)
    return kind, doc


@st.composite
def message(draw: st.DrawFn) -> tuple[str, bytes]:
    """A (topic, payload) a broken or hostile box could publish on the event topics."""
    kind, doc = draw(event_doc())
    site = draw(st.one_of(st.just("clinic-001"), level))
    desk = draw(st.one_of(st.just("desk-1"), level))
    usual = f"{PREFIX}/{draw(st.sampled_from(['clinic-001', 'clinic-002']))}/desk-1/{kind}"
    odd = [f"{PREFIX}/{site}/{desk}/{kind}", f"{PREFIX}/{site}/{kind}", f"{usual}/x"]
    topic = draw(st.one_of(st.just(usual), st.just(usual), st.just(usual), st.sampled_from(odd)))
    for key in draw(
        st.lists(st.sampled_from(["id", "ts", "seq", "v", "device", "kind"]), max_size=2)
    ):
        doc[key] = draw(json_value)
    body = json.dumps(doc, allow_nan=True, ensure_ascii=draw(st.booleans()))
    how = draw(
        st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-16", "bom", "cut", "deep", "bytes"])
    )
    if how == "utf-16":
        payload = body.encode("utf-16")
    elif how == "bom":
        payload = b"\xef\xbb\xbf" + body.encode("utf-8", "surrogatepass")
    elif how == "cut":
        payload = body.encode("utf-8", "surrogatepass")[: draw(st.integers(0, len(body)))]
    elif how == "deep":
        n = draw(st.integers(1, 3000))
        payload = (body[:-1] + ', "x": ' + "[" * n + "]" * n + "}").encode("utf-8", "surrogatepass")
    elif how == "bytes":
        payload = draw(st.binary(max_size=64))
    else:
        payload = body.encode("utf-8", "surrogatepass")
    return topic, payload
