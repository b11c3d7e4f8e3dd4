"""agent/flow/redact.py: the one URL redaction and the secret masking every output goes through."""

from __future__ import annotations

import re
from pathlib import Path

from agent.flow import redact as redact_module
from agent.flow.redact import MASK, redact, redact_url, remember
from agent.vision.capture.frames import parse_source
from tests.conftest import REPO


def test_redact_url_removes_credentials() -> None:
    assert redact_url("rtsp://admin:s3cret@10.0.0.9:554/h264") == "rtsp://***@10.0.0.9:554/h264"
    assert redact_url("rtsp://10.0.0.9/h264") == "rtsp://10.0.0.9/h264"
    assert redact_url("http://user@cam/x?a=b") == "http://***@cam/x?a=b"


def test_redact_url_masks_a_password_holding_an_at_sign_whole() -> None:
    assert redact_url("rtsp://admin:p@ss@cam:554/live") == "rtsp://***@cam:554/live"
    assert redact_url("rtsp://admin:p@ss@cam") == "rtsp://***@cam"


def test_redact_url_works_inside_text() -> None:
    text = "camera rtsp://u:pw@cam/1 failed; broker mqtts://a:b@broker:8883 too; mail me@home"
    assert redact_url(text) == (
        "camera rtsp://***@cam/1 failed; broker mqtts://***@broker:8883 too; mail me@home"
    )


def test_redact_masks_known_and_extra_secrets() -> None:
    remember(["kn0wn-secret", None, "ab"])  # too short values are never masked
    try:
        out = redact("pw kn0wn-secret x3xtra ab rtsp://u:v@h/", extra=["x3xtra"])
        assert out == f"pw {MASK} {MASK} ab rtsp://{MASK}@h/"
    finally:
        redact_module._known.discard("kn0wn-secret")


def test_the_camera_label_uses_the_one_redaction() -> None:
    spec = parse_source("rtsp://u:p@w@cam:8554/live")
    assert spec.label == "rtsp://***@cam:8554/live"


def test_no_other_url_redaction_in_the_agent() -> None:
    """One URL redaction function: nothing else in agent/ parses URLs to strip credentials."""
    own = REPO / "agent" / "flow" / "redact.py"
    offenders = []
    for path in sorted((REPO / "agent").rglob("*.py")):
        if path == own:
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"^\s*def \w*redact\w*\(", text, re.M) or re.search(
            r"\.(username|password)\b.*\bhostname\b|urlunsplit", text
        ):
            offenders.append(str(Path(path).relative_to(REPO)))
    assert offenders == []
