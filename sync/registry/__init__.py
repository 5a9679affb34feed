"""The provincial registry: receives what stations sync and verifies certificates for anyone.

Its own Flask app with its own database (PostgreSQL in production via ``DATABASE_URL``;
SQLite for the demo) and its own migrations.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from sync.registry import db


def create_app(test_config: dict | None = None, instance_path: str | None = None) -> Flask:
    instance = Path(instance_path or os.environ.get("REGISTRY_INSTANCE") or "registry-instance")
    app = Flask(__name__, instance_path=str(instance.resolve()), instance_relative_config=True)
    app.config.from_mapping(
        REGISTRY_NAME="省级职业技能等级证书核验服务",
        SECRET_KEY="uninitialised-registry-not-secret",  # `registry init` writes the real one
        DATABASE_URL=None,
        # Written by `registry init` into the instance config.py:
        ID_HASH_SECRET=None,  # hex; HMAC-SHA256 key for ID numbers (never stored in the database)
        ROOT_KEY_PASSPHRASE=None,  # unlocks the root key; $REGISTRY_KEY_PASSPHRASE wins
        MAX_CONTENT_LENGTH=8 * 1024 * 1024,  # sync.protocol_messages.MAX_PUSH_BYTES
    )
    app.config.from_pyfile("config.py", silent=True)
    if test_config:
        app.config.from_mapping(test_config)
    url = app.config["DATABASE_URL"] or os.environ.get("DATABASE_URL")
    if not url:  # the demo's SQLite file lives in the instance folder
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{Path(app.instance_path) / 'registry.db'}"
    app.config["DATABASE_URL"] = url
    db.init_app(app, db.make_engine(url))

    from sync.registry import views

    app.register_blueprint(views.bp)

    from sync.registry import api

    app.register_blueprint(api.bp)
    app.register_blueprint(api.well_known)

    from sync.registry import console, public, public_api

    app.register_blueprint(public.bp)
    app.register_blueprint(public_api.bp)
    app.register_blueprint(console.bp)

    from sync.registry import cli

    cli.register(app)
    return app
