"""Deliveries: notices sent where the district works (group robots, e-mail, webhooks) through a
durable queue in the database, with retries, backoff and a dead-letter state."""
