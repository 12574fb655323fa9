"""alerts once per deadline, and escalation emails to privacy officers

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 10:00:00

A fired reminder or escalation was unique per (obligation, kind), so a deadline that moved on recompute was
never escalated: the key now includes ``due_at``. ``escalation_email`` is the outbox of the optional email to
privacy officers on escalation (``BREACH_NOTIFY_ESCALATION_EMAIL``).
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('obligation_alert', schema=None) as batch_op:
        batch_op.drop_constraint('uq_obligation_alert', type_='unique')
        batch_op.create_unique_constraint('uq_obligation_alert', ['obligation_id', 'kind', 'due_at'])
    op.create_table('escalation_email',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('provider_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('error_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['obligation_alert.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alert_id', 'user_id', name='uq_escalation_email')
    )
    with op.batch_alter_table('escalation_email', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_escalation_email_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_escalation_email_state'), ['state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('escalation_email', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_escalation_email_state'))
        batch_op.drop_index(batch_op.f('ix_escalation_email_alert_id'))
    op.drop_table('escalation_email')
    # the old key allows one alert per kind: keep the first one fired, drop those of later deadlines
    op.execute("DELETE FROM obligation_alert WHERE id NOT IN "
               "(SELECT MIN(id) FROM obligation_alert GROUP BY obligation_id, kind)")
    with op.batch_alter_table('obligation_alert', schema=None) as batch_op:
        batch_op.drop_constraint('uq_obligation_alert', type_='unique')
        batch_op.create_unique_constraint('uq_obligation_alert', ['obligation_id', 'kind'])
