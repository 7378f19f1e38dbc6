"""Inbox: PostgreSQL index of the group tab's tasks by amount, largest first

PostgreSQL only: SQLite's ix_human_task_open_amount already serves the amount-sorted inbox
(SQLite sorts NULL below every value, so DESC NULLS LAST is its backward walk).

Revision ID: 3e7b1c52d0a4
Revises: 9ab629c6790c
Create Date: 2026-11-28 14:55:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '3e7b1c52d0a4'
down_revision = '9ab629c6790c'
branch_labels = None
depends_on = None


def _postgresql():
    return op.get_bind().dialect.name == 'postgresql'


def upgrade():
    if _postgresql():
        op.create_index('ix_human_task_group_by_amount', 'human_task',
                        [sa.text('amount DESC NULLS LAST'), sa.text('id DESC')], unique=False,
                        postgresql_where=sa.text("status = 'open' AND assignee_id IS NULL"))


def downgrade():
    if _postgresql():
        op.drop_index('ix_human_task_group_by_amount', table_name='human_task')
