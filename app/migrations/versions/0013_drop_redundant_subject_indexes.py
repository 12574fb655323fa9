"""drop two indexes that repeat the leading column of a unique constraint

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 16:20:00

``ix_subject_identifier_subject_id`` (subject_id) repeats the first column of ``uq_subject_identifier``
(subject_id, kind, digest), and ``ix_incident_subject_incident_id`` (incident_id) the first column of
``uq_incident_subject`` (incident_id, subject_id). Both databases answer ``subject_id = ?`` /
``incident_id = ?`` (and the foreign-key checks on delete) from the unique index's prefix, so the extra
indexes only cost a write per inserted row: about four per person in a subject import.
"""
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subject_identifier', schema=None) as batch_op:
        batch_op.drop_index('ix_subject_identifier_subject_id')
    with op.batch_alter_table('incident_subject', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_subject_incident_id')


def downgrade() -> None:
    with op.batch_alter_table('incident_subject', schema=None) as batch_op:
        batch_op.create_index('ix_incident_subject_incident_id', ['incident_id'], unique=False)
    with op.batch_alter_table('subject_identifier', schema=None) as batch_op:
        batch_op.create_index('ix_subject_identifier_subject_id', ['subject_id'], unique=False)
