"""Audit archive: chained entries and the archiver's chain heads.

Revision ID: 0001
Revises:
Create Date: 2026-05-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("kafka_partition", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("consumer", sa.String(64), nullable=True),
        sa.Column("agreement_id", sa.String(64), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("legal_basis", sa.Text(), nullable=True),
        sa.Column("record_type", sa.String(64), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaces", sa.Text(), nullable=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("kafka_partition", "kafka_offset", name="pk_audit_entries"),
    )
    op.create_index("ix_audit_entries_subject_time", "audit_entries", ["subject", "time"])
    op.create_index("ix_audit_entries_time", "audit_entries", ["time"])
    op.create_table(
        "audit_chain_heads",
        sa.Column("kafka_partition", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("checkpointed_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kafka_partition", name="pk_audit_chain_heads"),
    )


def downgrade() -> None:
    op.drop_table("audit_chain_heads")
    op.drop_index("ix_audit_entries_time", table_name="audit_entries")
    op.drop_index("ix_audit_entries_subject_time", table_name="audit_entries")
    op.drop_table("audit_entries")
