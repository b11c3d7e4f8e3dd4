"""triage-central: the district side of triage-agent (collector, reports, dashboard).

A separate package from the box's ``agent``: it reads only the wire contract (topics and JSON
payloads, docs/EVENTS.md) and never imports the agent's runtime. Installed with the ``central``
optional dependency group (``pip install 'triage-agent[central]'``).
"""

__version__ = "0.1.0"
