"""Zones of the camera picture: named polygons with a role, and where a point stands among them.

Pure Python (no cv2, no numpy): :mod:`agent.zones.geometry` (point in polygon, simple polygons,
interior overlap), :mod:`agent.zones.config` (the ``[[zones]]`` config entries and their
validation), :mod:`agent.zones.map` (:class:`~agent.zones.map.ZoneMap`: a normalised point ->
its zone), :mod:`agent.zones.hours` (the ``[clinic]`` opening hours in the device's time zone).
"""
