"""letter batches

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-29 20:40:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import app.db


revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('letter_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('destination', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('pdf_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('pdf_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('manifest_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('manifest_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('letters', sa.Integer(), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('cost', sa.Float(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('letter_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_letter_batch_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_letter_batch_reference'), ['reference'], unique=True)

    op.create_table('letter_batch_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('first_page', sa.Integer(), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('country', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
    sa.Column('mail_class', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['letter_batch.id'], ),
    sa.ForeignKeyConstraint(['delivery_id'], ['delivery.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('delivery_id', name='uq_letter_batch_item_delivery')
    )
    with op.batch_alter_table('letter_batch_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_letter_batch_item_batch_id'), ['batch_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('letter_batch_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_letter_batch_item_batch_id'))
    op.drop_table('letter_batch_item')
    with op.batch_alter_table('letter_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_letter_batch_reference'))
        batch_op.drop_index(batch_op.f('ix_letter_batch_incident_id'))
    op.drop_table('letter_batch')
