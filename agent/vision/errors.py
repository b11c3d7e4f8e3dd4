"""The vision package's one exception base: every error this package raises derives from it.

It sits below every other vision module (import-linter's ``vision`` contract), so any of them can
derive from it: :class:`~agent.vision.manifest.ModelError`,
:class:`~agent.vision.inference.integrity_reference.ReferenceFileError`,
:class:`~agent.vision.inference.families.preprocess.FrameError` and
:class:`~agent.vision.capture.frames.SourceUnavailableError`.
"""

from __future__ import annotations


class VisionError(Exception):
    """Something the vision package cannot do; the subclass and its message say what."""
