"""People in one frame: person boxes with the face that belongs to each, and where their feet are.

:func:`people_in` joins the person detector's boxes and the face detector's faces. A face belongs
to a person when its centre lies inside the person box horizontally and in the upper part of it
vertically (:data:`HEAD_ZONE` of the box height from its top, a little above the top allowed); each
person gets at most one face, best fitting first. A person with a face has its mask verdict (masked,
a mask worn wrong, unmasked); without one (facing away, too small) it is ``unknown``.

A face that belongs to no person box is still a person (at a desk camera a close face often hides
the body from the detector, and with no person model every face is one): its body box is estimated
from the face (:func:`body_from_face`: about 2.5 face widths wide and 7.5 face heights tall below the
top of the head, clipped to the frame), so it has feet and a zone like anyone else.

Feet are the bottom-centre of the body box, normalised to 0..1: the point a zone is decided by.
Boxes stay in process memory; nothing here is published.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from agent.vision.findings import Box, FaceFinding, SceneFindings

HEAD_ZONE = 0.4
"""A face's centre must lie within this fraction of the person box height from its top."""
ABOVE_TOP = 0.1
"""...or at most this fraction of the box height above its top (boxes cut at the hair)."""
HEAD_SHOULDERS = 0.25
"""A face at least this fraction of a person box's area, mostly overlapping it, belongs to it
wherever its centre is (a head-and-shoulders box around a close face, or a face box larger than
the body box the detector found)."""
BODY_WIDTH = 2.5
BODY_HEIGHT = 7.5
PersonMask = Literal["masked", "worn_wrong", "unmasked", "unknown"]


@dataclass(frozen=True, slots=True)
class Person:
    """One person in a frame."""

    box: Box
    """Body box in frame pixels: detected, or estimated from the face when ``detected`` is False."""
    face: FaceFinding | None
    detected: bool
    feet: tuple[float, float]
    """Bottom-centre of the body box, normalised (x, y) in 0..1."""

    @property
    def mask(self) -> PersonMask:
        """Mask verdict of the face (a mask worn wrong apart); ``unknown`` when no face is
        visible."""
        if self.face is None:
            return "unknown"
        return self.face.verdict


def _overlap(a: Box, b: Box) -> float:
    """Intersection area of two boxes."""
    return max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1)) * max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))


def _fit(face: Box, person: Box) -> float | None:
    """How well ``face`` sits in the head area of ``person`` (lower is better); None if not."""
    cx, cy = (face.x1 + face.x2) / 2, (face.y1 + face.y2) / 2
    h = max(person.height, 1.0)
    off_x = abs(cx - (person.x1 + person.x2) / 2) / max(person.width, 1.0)
    face_area, person_area = face.width * face.height, person.width * person.height
    if face_area >= HEAD_SHOULDERS * person_area and _overlap(face, person) >= 0.5 * min(
        face_area, person_area
    ):
        return off_x  # a close-up: the person box is a head-and-shoulders box around the face
    if not (person.x1 <= cx <= person.x2) or face.width > person.width * 1.1:
        return None
    if not (person.y1 - ABOVE_TOP * h <= cy <= person.y1 + HEAD_ZONE * h):
        return None
    return off_x + abs(cy - person.y1) / h


def body_from_face(face: Box, width: int, height: int) -> Box:
    """An estimated body box below a face whose body was not detected, clipped to the frame."""
    cx = (face.x1 + face.x2) / 2
    half = face.width * BODY_WIDTH / 2
    return Box(
        max(0.0, cx - half),
        max(0.0, face.y1 - 0.3 * face.height),
        min(float(width), cx + half),
        min(float(height), face.y1 + BODY_HEIGHT * face.height),
        face.score,
    )


def _feet(box: Box, width: int, height: int) -> tuple[float, float]:
    x = (box.x1 + box.x2) / 2 / max(width, 1)
    y = box.y2 / max(height, 1)
    return (min(1.0, max(0.0, x)), min(1.0, max(0.0, y)))


def attach(
    persons: Sequence[Box], faces: Sequence[FaceFinding], width: int, height: int
) -> list[Person]:
    """People from person boxes and faces (see the module docstring)."""
    pairs = sorted(
        (cost, fi, pi)
        for fi, f in enumerate(faces)
        for pi, p in enumerate(persons)
        if (cost := _fit(f.box, p)) is not None
    )
    face_of: dict[int, int] = {}
    used_faces: set[int] = set()
    for _, fi, pi in pairs:
        if pi in face_of or fi in used_faces:
            continue
        face_of[pi] = fi
        used_faces.add(fi)
    people = [
        Person(
            box=p,
            face=faces[face_of[pi]] if pi in face_of else None,
            detected=True,
            feet=_feet(p, width, height),
        )
        for pi, p in enumerate(persons)
    ]
    for fi, f in enumerate(faces):
        if fi not in used_faces:
            body = body_from_face(f.box, width, height)
            people.append(Person(body, f, False, _feet(body, width, height)))
    return people


def people_in(findings: SceneFindings) -> list[Person]:
    """The people of one frame's findings (faces only when no person detector ran)."""
    return attach(
        findings.persons or (), findings.faces, findings.frame_width, findings.frame_height
    )
