"""Analysers: findings -> mask, occupancy and alert events. Run on the **main loop** thread.

Each is an :class:`~agent.flow.ports.Analyser` that the engine feeds
(:class:`~agent.vision.findings.SceneFindings` or :class:`~agent.vision.findings.IntegrityFindings`)
and ticks once a second from the main loop (``service/pipeline.py``), so they need no locks:
:mod:`~agent.vision.analysers.compliance` (``mask`` events, ``unmasked`` / ``staff_unmasked``),
:mod:`~agent.vision.analysers.occupancy` (``occupancy`` events and ``crowding``, with the arrival
counts of :mod:`~agent.vision.analysers.arrivals`), :mod:`~agent.vision.analysers.desk`
(``desk_unattended``) and :mod:`~agent.vision.analysers.integrity_alerts` (the ``camera_*`` setup
alerts); :mod:`~agent.vision.analysers.tracker` gives their boxes stable ids.

Never imports :mod:`agent.vision.capture` or :mod:`agent.vision.inference` (import-linter): they see
no frame, only the findings, people, box geometry and config below, in :mod:`agent.vision`.
"""
