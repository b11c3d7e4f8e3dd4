"""``python -m agent`` is the ``triage-agent`` command."""

from agent.cli.main import main

raise SystemExit(main())
