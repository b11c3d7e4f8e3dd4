"""``python -m agent`` is the ``triage-agent`` command."""

from agent.cli import main

raise SystemExit(main())
