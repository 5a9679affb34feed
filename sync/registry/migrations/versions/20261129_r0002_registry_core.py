"""registry: root key, stations and enrollment, keys, nonces, sync records, certificates,
revocations, result summaries, the transparency log, the feed and bank releases

Revision ID: r0002
Revises: r0001
Create Date: 2026-11-29

``log_state`` and ``feed_state`` get their single row here: every log append and feed event
locks that row (see sync/registry/services/log.py and feed.py).
"""

import datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "r0002"
down_revision = "r0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "log_leaf",
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=22), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index"),
    )
    op.create_index(op.f("ix_log_leaf_number"), "log_leaf", ["number"], unique=False)
    op.create_table(
        "log_node",
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx"),
    )
    op.create_table(
        "log_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "request_nonce",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("keyid", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("nonce", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("keyid", "nonce", name="uq_request_nonce"),
    )
    op.create_index("ix_request_nonce_seen_at", "request_nonce", ["seen_at"], unique=False)
    op.create_table(
        "root_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kid", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("public_pem", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("private_pem", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kid"),
    )
    op.create_table(
        "station",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("city", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_station_code"), "station", ["code"], unique=True)
    op.create_table(
        "tree_head",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tree_size"),
    )
    op.create_table(
        "bank_release",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("programme_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("package", sa.LargeBinary(), nullable=False),
        sa.Column("release_code", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("station_id", sa.Integer(), nullable=True),
        sa.Column("feed_seq", sa.Integer(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["station.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_bank_release_bank"), "bank_release", ["bank"], unique=False)
    op.create_index(
        op.f("ix_bank_release_station_id"), "bank_release", ["station_id"], unique=False
    )
    op.create_table(
        "enrollment_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["station.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
    )
    op.create_index(
        op.f("ix_enrollment_token_station_id"), "enrollment_token", ["station_id"], unique=False
    )
    op.create_table(
        "feed_event",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["station.id"],
        ),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index(op.f("ix_feed_event_station_id"), "feed_event", ["station_id"], unique=False)
    op.create_table(
        "station_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kid", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("public_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("endorsed_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["station.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kid"),
    )
    op.create_index(op.f("ix_station_key_station_id"), "station_key", ["station_id"], unique=False)
    op.create_table(
        "sync_record",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("batch", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("kid", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("content_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["station.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_sync_record_kind"), "sync_record", ["kind"], unique=False)
    op.create_index(
        op.f("ix_sync_record_received_at"), "sync_record", ["received_at"], unique=False
    )
    op.create_index(op.f("ix_sync_record_station_id"), "sync_record", ["station_id"], unique=False)
    op.create_table(
        "certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=22), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("kid", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("holder_name", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("id_type", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("id_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("id_masked", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("occupation", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("occupation_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("direction", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("level_digit", sa.Integer(), nullable=False),
        sa.Column("issuer", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("programme_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("programme_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("session_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("theory_score", sa.Float(), nullable=True),
        sa.Column("practical_score", sa.Float(), nullable=True),
        sa.Column("review_score", sa.Float(), nullable=True),
        sa.Column("photo_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("record_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leaf_index", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["sync_record.id"],
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["station.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("leaf_index"),
        sa.UniqueConstraint("number"),
        sa.UniqueConstraint("record_id"),
    )
    op.create_index(
        op.f("ix_certificate_holder_name"), "certificate", ["holder_name"], unique=False
    )
    op.create_index(op.f("ix_certificate_id_hash"), "certificate", ["id_hash"], unique=False)
    op.create_index(op.f("ix_certificate_issue_date"), "certificate", ["issue_date"], unique=False)
    op.create_index(
        op.f("ix_certificate_programme_code"), "certificate", ["programme_code"], unique=False
    )
    op.create_index(op.f("ix_certificate_station_id"), "certificate", ["station_id"], unique=False)
    op.create_table(
        "result_summary",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("session_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("programme_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("signed_off_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("city", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("by_outcome", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["sync_record.id"],
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["station.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("record_id"),
    )
    op.create_index(
        op.f("ix_result_summary_programme_code"), "result_summary", ["programme_code"], unique=False
    )
    op.create_index(
        op.f("ix_result_summary_signed_off_at"), "result_summary", ["signed_off_at"], unique=False
    )
    op.create_index(
        op.f("ix_result_summary_station_id"), "result_summary", ["station_id"], unique=False
    )
    op.create_table(
        "revocation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=22), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("leaf_index", sa.Integer(), nullable=False),
        sa.Column("feed_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificate.id"],
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["sync_record.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("certificate_id"),
        sa.UniqueConstraint("leaf_index"),
        sa.UniqueConstraint("number"),
    )

    op.bulk_insert(
        sa.table("log_state", sa.column("id", sa.Integer), sa.column("tree_size", sa.BigInteger),
                 sa.column("frontier", sa.LargeBinary),
                 sa.column("updated_at", sa.DateTime(timezone=True))),
        [{"id": 1, "tree_size": 0, "frontier": b"",
          "updated_at": datetime.datetime(2026, 11, 29, tzinfo=datetime.UTC)}],
    )  # fmt: skip
    op.bulk_insert(sa.table("feed_state", sa.column("id", sa.Integer),
                            sa.column("last_seq", sa.Integer)), [{"id": 1, "last_seq": 0}])  # fmt: skip


def downgrade() -> None:
    op.drop_table("revocation")
    op.drop_index(op.f("ix_result_summary_station_id"), table_name="result_summary")
    op.drop_index(op.f("ix_result_summary_signed_off_at"), table_name="result_summary")
    op.drop_index(op.f("ix_result_summary_programme_code"), table_name="result_summary")
    op.drop_table("result_summary")
    op.drop_index(op.f("ix_certificate_station_id"), table_name="certificate")
    op.drop_index(op.f("ix_certificate_programme_code"), table_name="certificate")
    op.drop_index(op.f("ix_certificate_issue_date"), table_name="certificate")
    op.drop_index(op.f("ix_certificate_id_hash"), table_name="certificate")
    op.drop_index(op.f("ix_certificate_holder_name"), table_name="certificate")
    op.drop_table("certificate")
    op.drop_index(op.f("ix_sync_record_station_id"), table_name="sync_record")
    op.drop_index(op.f("ix_sync_record_received_at"), table_name="sync_record")
    op.drop_index(op.f("ix_sync_record_kind"), table_name="sync_record")
    op.drop_table("sync_record")
    op.drop_index(op.f("ix_station_key_station_id"), table_name="station_key")
    op.drop_table("station_key")
    op.drop_index(op.f("ix_feed_event_station_id"), table_name="feed_event")
    op.drop_table("feed_event")
    op.drop_index(op.f("ix_enrollment_token_station_id"), table_name="enrollment_token")
    op.drop_table("enrollment_token")
    op.drop_index(op.f("ix_bank_release_station_id"), table_name="bank_release")
    op.drop_index(op.f("ix_bank_release_bank"), table_name="bank_release")
    op.drop_table("bank_release")
    op.drop_table("tree_head")
    op.drop_index(op.f("ix_station_code"), table_name="station")
    op.drop_table("station")
    op.drop_table("root_key")
    op.drop_index("ix_request_nonce_seen_at", table_name="request_nonce")
    op.drop_table("request_nonce")
    op.drop_table("log_state")
    op.drop_table("log_node")
    op.drop_index(op.f("ix_log_leaf_number"), table_name="log_leaf")
    op.drop_table("log_leaf")
    op.drop_table("feed_state")
