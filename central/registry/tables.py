"""The registry's tables on the shared metadata: ``clinics``, ``clinic_parties`` (the four
responsible persons of each clinic) and ``clinic_recipients`` (who receives its notices).
Written by migration ``0005_registry`` (central/migrations/versions/0005_registry.py)."""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, String, Table, Text

from central.store.tables import metadata

clinics = Table(
    "clinics",
    metadata,
    Column("site", String(64), primary_key=True, comment="The site in the boxes' topics."),
    Column("name", String(200), nullable=False, comment="The clinic's name, any script."),
    Column("address", String(300), nullable=False, server_default=""),
    Column("sub_district", String(100), nullable=False, server_default=""),
    Column("community", String(100), nullable=False, server_default=""),
    Column("status", String(16), nullable=False, comment="open, closed, ordered_to_close."),
    Column("updated_at", Float(precision=53), nullable=False, comment="POSIX s UTC."),
)

clinic_parties = Table(
    "clinic_parties",
    metadata,
    Column(
        "site",
        String(64),
        ForeignKey("clinics.site", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("party", String(32), primary_key=True, comment="One of registry.PARTIES."),
    Column("person", String(100), nullable=False, comment="The named responsible person."),
    Column("phone", String(40), nullable=False, server_default=""),
    Column("email", String(200), nullable=False, server_default=""),
    Column("webhook", Text, nullable=False, server_default="", comment="Optional chat webhook."),
    Column("username", String(64), nullable=True, comment="The person's account, if any."),
)

Index("ix_clinic_parties_username", clinic_parties.c.party, clinic_parties.c.username)

clinic_recipients = Table(
    "clinic_recipients",
    metadata,
    Column(
        "site",
        String(64),
        ForeignKey("clinics.site", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True, comment="Order in the clinic's list."),
    Column(
        "channel", String(16), nullable=False, comment="email, wecom, dingtalk, feishu, webhook."
    ),
    Column("address", Text, nullable=False, comment="E-mail address or webhook URL."),
    Column(
        "language", String(8), nullable=False, server_default="", comment="'' = installation's."
    ),
)
