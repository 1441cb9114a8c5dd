"""initial schema: users, JupyterHub groups, applications, policies, grants

Revision ID: 18d7a6659487
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "18d7a6659487"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        sa.UniqueConstraint("name", name=op.f("uq_user_name")),
    )
    op.create_table(
        "hub_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_group")),
        sa.UniqueConstraint("name", name=op.f("uq_hub_group_name")),
    )
    op.create_table(
        "application",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image", sa.String(length=512), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application")),
        sa.UniqueConstraint("image", name=op.f("uq_application_image")),
    )
    op.create_table(
        "application_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("allow_home", sa.Boolean(), nullable=False),
        sa.Column("allow_view", sa.Boolean(), nullable=False),
        sa.Column("allow_common", sa.Boolean(), nullable=False),
        sa.Column("volume_source", sa.String(length=1024), nullable=False),
        sa.Column("volume_target", sa.String(length=1024), nullable=False),
        sa.Column("volume_mode", sa.String(length=2), nullable=False),
        sa.Column("app_license", sa.String(length=1024), nullable=False),
        sa.Column("allow_startup_data", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "volume_mode IN ('', 'ro', 'rw')", name=op.f("ck_application_policy_volume_mode")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_policy")),
        sa.UniqueConstraint(
            "allow_home",
            "allow_view",
            "allow_common",
            "volume_source",
            "volume_target",
            "volume_mode",
            "app_license",
            "allow_startup_data",
            name="uq_application_policy_content",
        ),
    )
    op.create_table(
        "accounting",
        sa.Column("mapping_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(user_id IS NULL AND group_id IS NOT NULL)"
            " OR (user_id IS NOT NULL AND group_id IS NULL)",
            name=op.f("ck_accounting_one_grantee"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_accounting_user_id_user"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["hub_group.id"],
            name=op.f("fk_accounting_group_id_hub_group"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
            name=op.f("fk_accounting_application_id_application"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["application_policy.id"],
            name=op.f("fk_accounting_policy_id_application_policy"),
        ),
        sa.PrimaryKeyConstraint("mapping_id", name=op.f("pk_accounting")),
        sa.UniqueConstraint(
            "user_id", "application_id", "policy_id", name="uq_accounting_user_grant"
        ),
        sa.UniqueConstraint(
            "group_id", "application_id", "policy_id", name="uq_accounting_group_grant"
        ),
    )
    with op.batch_alter_table("accounting") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_accounting_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_accounting_policy_id"), ["policy_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("accounting") as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounting_policy_id"))
        batch_op.drop_index(batch_op.f("ix_accounting_application_id"))
    op.drop_table("accounting")
    op.drop_table("application_policy")
    op.drop_table("application")
    op.drop_table("hub_group")
    op.drop_table("user")
