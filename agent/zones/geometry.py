"""Plane geometry of zone polygons in normalised image coordinates (x right, y down, 0..1).

A polygon is a sequence of ``(x, y)`` vertices, implicitly closed. Everything here is exact enough
for config validation and per-frame lookups of a handful of points: no numpy, no cv2.

- :func:`contains`: even-odd ray casting (a point exactly on an edge may go either way);
- :func:`self_intersection`: the first pair of edges of a polygon that cross or touch
  (adjacent edges may only share their common vertex);
- :func:`interiors_overlap`: whether two simple polygons share area of positive size. Polygons
  that only touch along an edge or at a vertex do not overlap (a staff zone may border a queue).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

Point = tuple[float, float]
Polygon = Sequence[Point]

EPS = 1e-12


def area(polygon: Polygon) -> float:
    """Signed area (shoelace formula); positive for counter-clockwise in y-up coordinates."""
    n = len(polygon)
    twice = sum(
        polygon[i][0] * polygon[(i + 1) % n][1] - polygon[(i + 1) % n][0] * polygon[i][1]
        for i in range(n)
    )
    return twice / 2.0


def contains(polygon: Polygon, point: Point) -> bool:
    """True when ``point`` lies inside ``polygon`` (even-odd rule)."""
    x, y = point
    inside = False
    n = len(polygon)
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            cross_x = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < cross_x:
                inside = not inside
    return inside


def _orient(a: Point, b: Point, c: Point) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: Point, b: Point, p: Point) -> bool:
    return (
        min(a[0], b[0]) - EPS <= p[0] <= max(a[0], b[0]) + EPS
        and min(a[1], b[1]) - EPS <= p[1] <= max(a[1], b[1]) + EPS
    )


def segments_intersect(a: Point, b: Point, c: Point, d: Point) -> bool:
    """True when segment ``ab`` and segment ``cd`` share at least one point."""
    o1, o2 = _orient(a, b, c), _orient(a, b, d)
    o3, o4 = _orient(c, d, a), _orient(c, d, b)
    if ((o1 > EPS and o2 < -EPS) or (o1 < -EPS and o2 > EPS)) and (
        (o3 > EPS and o4 < -EPS) or (o3 < -EPS and o4 > EPS)
    ):
        return True
    return (
        (abs(o1) <= EPS and _on_segment(a, b, c))
        or (abs(o2) <= EPS and _on_segment(a, b, d))
        or (abs(o3) <= EPS and _on_segment(c, d, a))
        or (abs(o4) <= EPS and _on_segment(c, d, b))
    )


def self_intersection(polygon: Polygon) -> tuple[int, int] | None:
    """Indices ``(i, j)`` of two edges (edge ``k`` runs from vertex ``k`` to ``k+1``) that cross,
    touch or overlap although they should not; None for a simple polygon."""
    n = len(polygon)
    edges = [(polygon[i], polygon[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        a, b = edges[i]
        if abs(a[0] - b[0]) <= EPS and abs(a[1] - b[1]) <= EPS:
            return (i, i)  # a repeated vertex: a zero-length edge
        for j in range(i + 1, n):
            c, d = edges[j]
            if j == i + 1 or (i == 0 and j == n - 1):
                # adjacent edges share one vertex; they must not fold back onto each other
                shared, other_a, other_b = (b, a, d) if j == i + 1 else (a, b, c)
                if abs(_orient(other_a, shared, other_b)) <= EPS and (
                    _on_segment(shared, other_a, other_b) or _on_segment(shared, other_b, other_a)
                ):
                    return (i, j)
                continue
            if segments_intersect(a, b, c, d):
                return (i, j)
    return None


def _crossing_y(a: Point, b: Point, x: float) -> float | None:
    if (a[0] < x) == (b[0] < x) or abs(a[0] - b[0]) <= EPS:
        return None
    return a[1] + (x - a[0]) * (b[1] - a[1]) / (b[0] - a[0])


def _line_intersection(a: Point, b: Point, c: Point, d: Point) -> Point | None:
    den = (a[0] - b[0]) * (c[1] - d[1]) - (a[1] - b[1]) * (c[0] - d[0])
    if abs(den) <= EPS:
        return None
    t = ((a[0] - c[0]) * (c[1] - d[1]) - (a[1] - c[1]) * (c[0] - d[0])) / den
    return (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))


def interiors_overlap(p: Polygon, q: Polygon) -> bool:
    """True when simple polygons ``p`` and ``q`` share a region of positive area.

    Exact slab decomposition: cut the plane at every vertex and every edge crossing x; inside one
    slab no edge starts, ends or crosses another, so each cell between two consecutive edges is
    wholly inside or outside each polygon, and its middle point decides."""
    edges = [(poly[i], poly[(i + 1) % len(poly)]) for poly in (p, q) for i in range(len(poly))]
    xs = {v[0] for v in (*p, *q)}
    for i, (a, b) in enumerate(edges):
        for c, d in edges[i + 1 :]:
            if segments_intersect(a, b, c, d):
                hit = _line_intersection(a, b, c, d)
                if hit is not None:
                    xs.add(hit[0])
    cuts = sorted(xs)
    for left, right in itertools.pairwise(cuts):
        if right - left <= EPS:
            continue
        mid_x = (left + right) / 2
        ys = sorted(y for a, b in edges if (y := _crossing_y(a, b, mid_x)) is not None)
        for low, high in itertools.pairwise(ys):
            if high - low <= EPS:
                continue
            point = (mid_x, (low + high) / 2)
            if contains(p, point) and contains(q, point):
                return True
    return False
