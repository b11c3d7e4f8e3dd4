"""Inference: frames -> findings. Runs on the **vision worker** thread.

:class:`~agent.vision.inference.worker.VisionWorker` (a :class:`~agent.flow.threaded.ThreadedSource`,
stage ``vision``, thread ``vision-worker``) takes frames from the
:class:`~agent.vision.slot.LatestFrame` the grabber fills, passes them through the detection gate
(:mod:`~agent.vision.inference.gate`, with the motion check of :mod:`~agent.vision.inference.motion`)
to the ONNX scene inference (:mod:`~agent.vision.inference.scene`, the model families of
:mod:`agent.vision.inference.families`), measures camera integrity
(:mod:`~agent.vision.inference.integrity`, the frame's numbers from
:mod:`~agent.vision.inference.integrity_measures`, the commissioned reference file written by
``triage-agent commission`` in :mod:`~agent.vision.inference.integrity_reference`) and emits :class:`~agent.vision.findings.SceneFindings` and
:class:`~agent.vision.findings.IntegrityFindings` to the engine's queue. Frames never leave this
thread.

Never imports :mod:`agent.vision.capture` or :mod:`agent.vision.analysers` (import-linter): the
findings it emits, the slot, the box geometry, people and config sit below, in :mod:`agent.vision`.
"""
