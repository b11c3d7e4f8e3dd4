"""The clinic registry: who each clinic (the ``site`` in the boxes' topics) is, where it is, whether
it is open, and who answers for it (the four parties' named persons) and receives its notices.

- :mod:`central.registry.tables`: the tables (migration branch ``0005_registry``).
- :mod:`central.registry.clinics`: typed records, reading and saving (audited by
  central/loop/registry_edits.py, above the audit trail),
  :func:`~central.registry.clinics.clinic_names` and :func:`~central.registry.clinics.sites_for`.
- :mod:`central.registry.csvfile`: the CSV import and export (``triage-central registry``).
"""
