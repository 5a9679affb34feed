"""Blueprints per audience: ``console`` (staff) now; ``exam``, ``results`` and ``api`` follow."""

from flask import Flask, redirect, url_for


def register_blueprints(app: Flask) -> None:
    from station.views.console import bp as console

    app.register_blueprint(console)

    @app.get("/")
    def index():
        return redirect(url_for("console.home"))
