"""user: must_change_password and last_login_at

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 09:20:00

Existing users keep their passwords (``must_change_password`` false); only passwords printed from now on
by ``users create`` or ``users reset-password`` must be changed at first sign-in.
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('last_login_at', app.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('last_login_at')
        batch_op.drop_column('must_change_password')
