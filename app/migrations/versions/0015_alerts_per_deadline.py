"""alerts once per deadline

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 10:00:00

A fired reminder or escalation was unique per (obligation, kind), so a deadline that moved on recompute was
never escalated: the key now includes ``due_at``.
"""
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('obligation_alert', schema=None) as batch_op:
        batch_op.drop_constraint('uq_obligation_alert', type_='unique')
        batch_op.create_unique_constraint('uq_obligation_alert', ['obligation_id', 'kind', 'due_at'])


def downgrade() -> None:
    # the old key allows one alert per kind: keep the first one fired, drop those of later deadlines
    op.execute("DELETE FROM obligation_alert WHERE id NOT IN "
               "(SELECT MIN(id) FROM obligation_alert GROUP BY obligation_id, kind)")
    with op.batch_alter_table('obligation_alert', schema=None) as batch_op:
        batch_op.drop_constraint('uq_obligation_alert', type_='unique')
        batch_op.create_unique_constraint('uq_obligation_alert', ['obligation_id', 'kind'])
