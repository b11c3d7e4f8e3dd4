"""The wire: events become topics and JSON (the v1 contract), wait in the durable outbox, and leave
over MQTT. Nothing before this package sees topics or JSON.
"""
