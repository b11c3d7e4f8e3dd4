"""Capture: camera frames into the latest-frame slot. Runs on the **camera grabber** thread.

:mod:`agent.vision.capture.frames` opens a camera, stream, video file, image folder or the simulated
scene (:func:`~agent.vision.capture.frames.open_source`, also used by ``diag``, ``preview`` and
``commission``); :mod:`agent.vision.capture.grabber`'s
:class:`~agent.vision.capture.grabber.CameraReader` (a :class:`~agent.flow.threaded.ThreadedSource`,
stage ``camera``, thread ``camera-grabber``) reads it into the
:class:`~agent.vision.slot.LatestFrame` the vision worker takes frames from, reconnecting with
backoff. It blocks on ``cv2.VideoCapture.read`` (5 s stream timeout) and sends no observation to
the engine: frames go only to the slot.

Never imports :mod:`agent.vision.inference` or :mod:`agent.vision.analysers` (import-linter):
what it shares with them (frames, the slot, config) sits below, in :mod:`agent.vision`.
"""
