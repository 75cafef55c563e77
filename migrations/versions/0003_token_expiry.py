"""API tokens can expire: taskpulse_api_tokens.expires_at (null: never, as before).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    # batch mode: SQLite cannot drop a column in place (downgrade), so both directions use it.
    with op.batch_alter_table("taskpulse_api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("taskpulse_api_tokens", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
