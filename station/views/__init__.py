"""Blueprints per audience: ``console`` (staff), ``exam`` (candidates' pages) and ``exam_api``
(their JSON API); ``results`` follows."""

from flask import Flask, redirect, url_for


def register_blueprints(app: Flask) -> None:
    from station.views import exam_api, exam_pages
    from station.views import results as public_results
    from station.views.console import bp as console

    app.register_blueprint(console)
    app.register_blueprint(exam_pages.bp)
    app.register_blueprint(exam_api.bp)
    app.register_blueprint(public_results.bp)

    @app.get("/")
    def index():
        return redirect(url_for("console.home"))
