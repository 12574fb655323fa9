"""obligation.recipient: text, no length limit

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 10:20:00

A media notice recipient names every jurisdiction over its threshold ("prominent media outlets serving US,
US-AK, ..."): with residents in every US state it is about 400 characters, which PostgreSQL refused as
VARCHAR(300) (SQLite does not enforce the length).
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('obligation', schema=None) as batch_op:
        batch_op.alter_column('recipient', existing_type=sqlmodel.sql.sqltypes.AutoString(length=300),
                              type_=sa.Text(), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('obligation', schema=None) as batch_op:
        batch_op.alter_column('recipient', existing_type=sa.Text(),
                              type_=sqlmodel.sql.sqltypes.AutoString(length=300), existing_nullable=False)
