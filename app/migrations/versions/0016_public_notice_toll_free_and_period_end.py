"""public_notice: the toll-free number and its period, and when the period ended

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 00:10:00

HIPAA substitute notice for 10 or more people needs a toll-free number active for at least 90 days
(45 CFR 164.404(d)(2)(ii)(B)): the public notice keeps the number it gives and when that period ends.
``period_ended_at`` records once that the posting period (and the number's) ended.
(0015 is being added on another branch; the chain is re-linked at merge.)
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import app.db


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('public_notice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('toll_free_phone', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('toll_free_ends_at', app.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('period_ended_at', app.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('public_notice', schema=None) as batch_op:
        batch_op.drop_column('period_ended_at')
        batch_op.drop_column('toll_free_ends_at')
        batch_op.drop_column('toll_free_phone')
