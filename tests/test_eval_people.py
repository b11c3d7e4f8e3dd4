"""tools/eval_people: the hand counts cover every scene photo, and the shipped people count keeps
the figures its model card states (a regression guard for the person detector and the attachment)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO, shared_path
from tools.eval_people import main, read_labels

LABELS = REPO / "models" / "eval" / "scene_people.csv"


def test_labels_are_well_formed() -> None:
    rows = read_labels(LABELS)
    assert len(rows) == 35
    assert len({r[0] for r in rows}) == 35
    kinds = {k for _, _, k in rows}
    assert kinds <= {"group", "collage", "crowd", "duplicate", "rendered", "drawing"}
    assert sum(k == "group" for _, _, k in rows) == 19
    assert all(n >= 1 for _, n, _ in rows)


@pytest.mark.shared
@pytest.mark.model
def test_counts_on_the_scene_photos_match_the_card(capsys: pytest.CaptureFixture[str]) -> None:
    scenes = shared_path("data", "scenes")
    photos = {p.name for p in scenes.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"}}
    assert photos == {r[0] for r in read_labels(LABELS)}  # every photo counted, nothing else
    assert main(["--scenes", str(scenes)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    group = result["group"]
    assert group["n"] == 19
    assert group["people"]["mae"] <= 0.25  # card: 0.21
    assert group["people"]["exact"] >= 0.75  # card: 78.9 %
    assert group["people"]["mae"] < group["faces"]["mae"]  # people beat faces alone
