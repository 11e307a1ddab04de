"""Receipts beside the audit entries: one row per (consumer, event) receipt, hash-chained per partition
of ``bus.receipts`` (``bus/audit/receipts.py``), and that chain's heads.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "receipts",
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False),
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("agreement_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("proof", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(128), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("kafka_partition", "kafka_offset", name="pk_receipts"),
        sa.UniqueConstraint("event_id", "consumer", name="uq_receipts_event_id_consumer"),
    )
    op.create_table(
        "receipt_chain_heads",
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kafka_partition", name="pk_receipt_chain_heads"),
    )


def downgrade() -> None:
    op.drop_table("receipt_chain_heads")
    op.drop_table("receipts")
