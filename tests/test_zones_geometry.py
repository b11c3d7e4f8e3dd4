"""Zone geometry: point in polygon, simple polygons, interior overlap (pure Python)."""

from __future__ import annotations

from agent.zones.geometry import (
    area,
    contains,
    interiors_overlap,
    segments_intersect,
    self_intersection,
)

SQUARE = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
L_SHAPE = [(0.0, 0.0), (0.6, 0.0), (0.6, 0.3), (0.3, 0.3), (0.3, 0.6), (0.0, 0.6)]


def box(x1: float, y1: float, x2: float, y2: float) -> list[tuple[float, float]]:
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


def test_contains_convex_and_concave() -> None:
    assert contains(SQUARE, (0.5, 0.5))
    assert not contains(SQUARE, (1.5, 0.5))
    assert contains(L_SHAPE, (0.1, 0.5))
    assert contains(L_SHAPE, (0.5, 0.1))
    assert not contains(L_SHAPE, (0.5, 0.5))  # the notch of the L


def test_area_is_the_shoelace_area() -> None:
    assert abs(area(SQUARE)) == 1.0
    assert abs(abs(area(L_SHAPE)) - (0.18 + 0.09)) < 1e-9


def test_segments() -> None:
    assert segments_intersect((0, 0), (1, 1), (0, 1), (1, 0))
    assert not segments_intersect((0, 0), (1, 0), (0, 1), (1, 1))
    assert segments_intersect((0, 0), (1, 0), (1, 0), (1, 1))  # touching at an end
    assert segments_intersect((0, 0), (2, 0), (1, 0), (3, 0))  # collinear overlap


def test_self_intersection() -> None:
    assert self_intersection(SQUARE) is None
    assert self_intersection(L_SHAPE) is None
    assert self_intersection([(0, 0), (1, 1), (1, 0), (0, 1)]) is not None  # a bow tie
    assert self_intersection([(0, 0), (1, 0), (0.5, 0)]) is not None  # folds back on itself
    assert self_intersection([(0, 0), (1, 0), (1, 0), (0, 1)]) is not None  # repeated vertex
    # a vertex touching a non-adjacent edge
    assert self_intersection([(0, 0), (1, 0), (0.5, 0.0), (0.5, 1.0)]) is not None


def test_overlap_needs_shared_area() -> None:
    assert interiors_overlap(box(0, 0, 0.6, 1), box(0.5, 0, 1, 1))
    assert not interiors_overlap(box(0, 0, 0.5, 1), box(0.5, 0, 1, 1))  # shared edge only
    assert not interiors_overlap(box(0, 0, 0.5, 0.5), box(0.5, 0.5, 1, 1))  # a shared corner
    assert interiors_overlap(SQUARE, SQUARE)  # identical
    assert interiors_overlap(SQUARE, box(0.4, 0.4, 0.6, 0.6))  # one inside the other
    assert not interiors_overlap(L_SHAPE, box(0.35, 0.35, 0.6, 0.6))  # inside the notch
    assert interiors_overlap(L_SHAPE, box(0.25, 0.25, 0.6, 0.6))
    # a cross: no vertex of either inside the other, edges cross
    assert interiors_overlap(box(0.4, 0, 0.6, 1), box(0, 0.4, 1, 0.6))
