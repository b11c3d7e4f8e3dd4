"""``python -m central``: the triage-central command line."""

from central.cli import main

raise SystemExit(main())
