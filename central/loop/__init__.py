"""The supervisors' loop: the daily notices, the cases followed until rectified, escalation by the
district's rules and closure orders.

- :mod:`central.loop.kinds`: which of a day's problems (central/report/problems.py, by the kinds
  of central/report/kinds.py) a notice lists, and what a clinic must do for each kind.
- :mod:`central.loop.settings`: deadlines, windows and thresholds (:class:`LoopSettings`).
- :mod:`central.loop.notices`: drafts, issuing (numbered, immutable), :class:`IssuedNotice`,
  :func:`issued_since`, :func:`notices_of_day`.
- :mod:`central.loop.render`: one notice as HTML and as plain text, per locale.
- :mod:`central.loop.cases`: the cases and their transitions.
- :mod:`central.loop.escalation`: notices counted in the rolling window, closure orders and the
  alert when a closed clinic's desks still see people.
- :mod:`central.loop.registry_edits`: registry changes with their audit entries.
- :mod:`central.loop.commands`: ``triage-central registry`` and ``triage-central notices``.
- :mod:`central.loop.tables`: the tables (migration ``0005_loop``).
"""
