"""The tracker: stable ids, miss tolerance, forgetting, mask-vote hysteresis; and on real detections."""

from __future__ import annotations

import pytest

from agent.vision.analysers.tracker import MaskVote, Tracker
from agent.vision.findings import Box
from tests.vision_media import scene, scene_inference


def box(x: float, y: float, w: float = 60, h: float = 80) -> Box:
    return Box(x, y, x + w, y + h, 0.9)


def test_one_person_standing_for_a_minute_is_one_track_despite_misses() -> None:
    t = Tracker(forget_after_s=2.0)
    ids: set[int] = set()
    for i in range(300):  # 60 s at 5 fps, a little jitter, every 7th frame missed
        at = 1000.0 + i * 0.2
        boxes = [] if i % 7 == 3 else [box(100 + (i % 3), 50 - (i % 2))]
        ids.update(tr.id for tr in t.update(boxes, at))
    assert ids == {1}
    assert len(t.present()) == 1


def test_two_people_keep_their_ids_while_walking_past_each_other_slowly() -> None:
    t = Tracker()
    for i in range(20):
        seen = t.update([box(10 + 5 * i, 50), box(400 - 5 * i, 50)], float(i) * 0.2)
    assert [tr.id for tr in seen] == [1, 2]


def test_fast_mover_matched_by_centroid_when_boxes_do_not_overlap() -> None:
    t = Tracker(max_shift=1.0)
    t.update([box(100, 100)], 0.0)
    seen = t.update([box(160, 100)], 0.2)  # no overlap, shift 60 px ~ 0.87 box sizes
    assert [tr.id for tr in seen] == [1]
    seen = t.update([box(400, 100)], 0.4)  # far away: a new person
    assert [tr.id for tr in seen] == [2]


def test_one_frame_false_positive_is_not_confirmed_and_tracks_are_forgotten() -> None:
    t = Tracker(min_hits=2, forget_after_s=2.0)
    t.update([box(0, 0)], 0.0)
    assert t.present() == []
    t.update([box(0, 0)], 0.2)
    assert [tr.id for tr in t.present()] == [1]
    assert t.expire(2.1) == []
    gone = t.expire(2.3)
    assert [tr.id for tr in gone] == [1]
    assert t.present() == []
    assert [tr.id for tr in t.update([box(0, 0)], 2.4)] == [2]  # a returning person is new


def test_mask_vote_settles_then_needs_clear_evidence_to_flip() -> None:
    v = MaskVote()
    v.add(0.9, 0.0)
    v.add(0.9, 0.2)
    assert v.state is None
    v.add(0.9, 0.4)
    assert v.state == "masked"
    assert v.since == 0.4
    for i in range(10):  # a flickering classifier around 0.5 does not flip the state
        v.add(0.2 if i % 2 else 0.7, 1.0 + i)
        assert v.state == "masked"
    for i in range(6):
        v.add(0.05, 20.0 + i)
    assert v.state == "unmasked"
    assert v.since is not None
    assert v.since >= 20.0


def test_a_mask_worn_wrong_settles_as_its_own_verdict_and_keeps_its_since() -> None:
    v = MaskVote()
    for i in range(3):  # P(masked) 0.1, P(worn wrong) 0.8: most of the rest is "worn wrong"
        v.add(0.1, i * 0.2, 0.8)
    assert (v.state, v.since) == ("worn_wrong", 0.4)
    for i in range(3):  # an unsure moment between the two does not flip it
        v.add(0.1, 1.0 + i, 0.45)
    assert v.state == "worn_wrong"
    for i in range(6):  # the mask comes off: no mask, but not compliant since 0.4 all along
        v.add(0.05, 5.0 + i, 0.02)
    assert (v.state, v.since) == ("unmasked", 0.4)
    for i in range(6):  # pulled up over the nose: masked, a new since
        v.add(0.95, 20.0 + i, 0.02)
    assert (v.state, v.since) == ("masked", 22.0)  # the EMA crosses 0.65 on the third vote


def test_a_two_verdict_model_never_says_worn_wrong() -> None:
    v = MaskVote()
    for i in range(10):
        v.add(0.02, float(i))
    assert v.state == "unmasked"


def test_tracker_feeds_mask_votes_per_track() -> None:
    t = Tracker()
    for i in range(4):
        t.update([box(0, 0), box(300, 0)], i * 0.2, [0.95, 0.05])
    a, b = t.present()
    assert a.mask.state == "masked"
    assert b.mask.state == "unmasked"
    for i in range(4, 10):
        t.update([box(0, 0), box(300, 0)], i * 0.2, [0.95, 0.1], [0.0, 0.85])
    assert [tr.mask.state for tr in t.present()] == ["masked", "worn_wrong"]


@pytest.mark.shared
@pytest.mark.model
def test_real_detections_on_a_still_scene_keep_stable_ids() -> None:
    analyser = scene_inference()
    frame = scene("masked_img3.jpg")
    t = Tracker()
    first = None
    for i in range(10):
        findings = analyser.analyse(frame, 100.0 + i * 0.2)
        seen = t.update([f.box for f in findings.faces], findings.at)
        ids = sorted(tr.id for tr in seen)
        first = first or ids
        assert ids == first
    assert first
    assert len(t.present()) == len(first)
