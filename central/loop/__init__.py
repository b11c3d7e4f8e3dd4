"""The supervisors' loop: the daily notices, the cases followed until rectified, escalation by the
district's rules and closure orders.

- :mod:`central.loop.kinds`: the supervisor's problem kinds (the four plus "triage point not
  working"), what a clinic must do for each, and the problems of a day per clinic.
- :mod:`central.loop.settings`: deadlines, windows and thresholds (:class:`LoopSettings`).
- :mod:`central.loop.notices`: drafts, issuing (numbered, immutable), :class:`IssuedNotice`,
  :func:`issued_since`, :func:`notices_of_day`.
- :mod:`central.loop.render`: one notice as HTML and as plain text, per locale.
- :mod:`central.loop.cases`: the cases and their transitions.
- :mod:`central.loop.escalation`: notices counted in the rolling window, closure orders and the
  alert when a closed clinic's desks still see people.
- :mod:`central.loop.tables`: the tables (migration ``0005_loop``).
"""
