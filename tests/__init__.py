"""Test suite of triage-agent (tests mirror the modules of ``agent``)."""
