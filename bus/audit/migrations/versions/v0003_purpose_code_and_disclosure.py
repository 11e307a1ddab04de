"""Audit entries gain the agreement's purpose code and delayed disclosure (hidden until, why, which law).

Nullable: rows archived before stay as they were, and so do their hashes (``ArchivedEntry.document``
includes these fields only when set).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_entries") as table:
        table.add_column(sa.Column("purpose_code", sa.String(128), nullable=True))
        table.add_column(sa.Column("hidden_until", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("hidden_reason", sa.Text(), nullable=True))
        table.add_column(sa.Column("hidden_legal_basis", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_entries") as table:
        table.drop_column("hidden_legal_basis")
        table.drop_column("hidden_reason")
        table.drop_column("hidden_until")
        table.drop_column("purpose_code")
