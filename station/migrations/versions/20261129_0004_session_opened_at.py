"""session opened_at: when the theory exam actually opened

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 09:20:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exam_session") as batch:
        batch.add_column(sa.Column("opened_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exam_session") as batch:
        batch.drop_column("opened_at")
