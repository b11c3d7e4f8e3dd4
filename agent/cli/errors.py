"""The command line's one exception base: every error this package raises derives from it.

:class:`~agent.cli.preview.PreviewError` and :class:`~agent.cli.status.StatusClientError`; their
``str()`` is what the user reads.
"""

from __future__ import annotations


class CliError(Exception):
    """A command that could not do its job; ``str()`` says what to do."""
