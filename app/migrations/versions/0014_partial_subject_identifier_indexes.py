"""index only the identifiers a look-up can find: partial digest_key and source_system indexes

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 19:40:00

``digest_key`` is set only for the kinds that identify a person (external_id, email, phone) and
``source_system`` only for external ids, yet every identifier (four or five per person in an import) wrote
an entry into both indexes, NULLs included. Look-ups compare the column with values (``digest_key IN
(...)``, ``= ANY(...)``, ``source_system = ?``), which both databases prove non-NULL, so partial indexes
``WHERE ... IS NOT NULL`` answer them with one write per identifier fewer for digest_key (addresses, push)
and three fewer per person for source_system.
"""
import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_PARTIAL = (('ix_subject_identifier_digest_key', 'digest_key'),
            ('ix_subject_identifier_source_system', 'source_system'))


def upgrade() -> None:
    for name, column in _PARTIAL:
        op.drop_index(name, table_name='subject_identifier')
        where = sa.text(f'{column} IS NOT NULL')
        op.create_index(name, 'subject_identifier', [column], unique=False, sqlite_where=where,
                        postgresql_where=where)


def downgrade() -> None:
    for name, column in _PARTIAL:
        op.drop_index(name, table_name='subject_identifier')
        op.create_index(name, 'subject_identifier', [column], unique=False)
