"""The ``triage-agent`` command line, apart from the core: one module per command for technicians."""
