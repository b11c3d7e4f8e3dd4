"""triage-agent: edge agent for clinic triage desks.

Flow, one direction: sources (thermometer, camera) -> analysers (screening, vision) -> typed events
-> durable outbox -> MQTT. See docs/ARCHITECTURE.md.
"""

__version__ = "0.1.0"
