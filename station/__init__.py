"""The on-site station: a Flask app for the console, the exam terminals and the results kiosk."""

from __future__ import annotations

from flask import Flask

from station import config as station_config
from station import db


def create_app(test_config: dict | None = None, instance_path: str | None = None) -> Flask:
    instance = station_config.instance_path(instance_path)
    app = Flask(__name__, instance_path=str(instance), instance_relative_config=True)
    app.config.from_mapping(station_config.DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        # Only before `station init` has written the instance's own secret.
        app.config["SECRET_KEY"] = "uninitialised-instance-not-secret"
    app.config.setdefault("DATABASE_PATH", str(station_config.database_path(instance)))

    db.init_app(app, db.make_engine(app.config["DATABASE_PATH"]))

    from station import auth, i18n, web

    i18n.init_app(app)
    auth.init_app(app)
    web.init_app(app)

    from station.views import register_blueprints

    register_blueprints(app)

    from station import cli

    cli.register(app)
    return app
