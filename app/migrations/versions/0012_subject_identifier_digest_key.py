"""subject_identifier.digest_key: an 8-byte look-up key replaces the (kind, digest) index

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 12:50:00

De-duplication looks identifiers up by their blind-index digest. The digest is random by design, so every
insert lands on a random page of its index; with 32 hex characters (plus the kind) per entry, a million
people's index outgrew SQLite's page cache and half of a large import's database time went to it. The new
key is the digest's first 64 bits as a BIGINT, indexed alone, for the kinds that identify a person
(external_id, email, phone); push and address rows have none. Look-ups compare kind and the whole digest
after the probe (``app.subjects.models.digest_key``).
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

MATCHING_KINDS = ("external_id", "email", "phone")
BATCH = 5000


def _key(digest: str) -> int:
    """Frozen copy of ``app.subjects.models.digest_key`` for matching kinds (migrations never import app code)."""
    return int.from_bytes(bytes.fromhex(digest[:16]), "big", signed=True)


def upgrade() -> None:
    with op.batch_alter_table('subject_identifier', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest_key', sa.BigInteger(), nullable=True))
    conn = op.get_bind()
    table = sa.table('subject_identifier', sa.column('id', sa.Integer), sa.column('kind', sa.String),
                     sa.column('digest', sa.String), sa.column('digest_key', sa.BigInteger))
    update = table.update().where(table.c.id == sa.bindparam('row_id')).values(digest_key=sa.bindparam('key'))
    last = 0
    while rows := conn.execute(sa.select(table.c.id, table.c.digest).where(
            table.c.kind.in_(MATCHING_KINDS), table.c.id > last).order_by(table.c.id).limit(BATCH)).all():
        conn.execute(update, [{"row_id": row_id, "key": _key(digest)} for row_id, digest in rows])
        last = rows[-1][0]
    with op.batch_alter_table('subject_identifier', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subject_identifier_digest_key'), ['digest_key'], unique=False)
        batch_op.drop_index('ix_subject_identifier_lookup')


def downgrade() -> None:
    with op.batch_alter_table('subject_identifier', schema=None) as batch_op:
        batch_op.create_index('ix_subject_identifier_lookup', ['kind', 'digest'], unique=False)
        batch_op.drop_index(batch_op.f('ix_subject_identifier_digest_key'))
        batch_op.drop_column('digest_key')
