"""Citizen wallet: the latest record of each IIN-keyed type per person (bus/wallet/store.py).

Not part of the hash chains: the wallet materialiser owns this table and rebuilds it from the
``deliver.wallet.*`` topics if it is lost.

Revision ID: 0002
Revises: 0001
Create Date: 2026-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "wallet_records",
        sa.Column("iin", sa.String(12), nullable=False),
        sa.Column("record_type", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("agreement_id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("iin", "record_type", name="pk_wallet_records"),
    )


def downgrade() -> None:
    op.drop_table("wallet_records")
