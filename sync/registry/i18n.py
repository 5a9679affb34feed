"""Languages of the registry's pages (Simplified Chinese by default, English on request) and
the words every verdict is explained in.

``?lang=en`` (or ``?lang=zh_CN``) switches and is remembered in the session. The registry has
its own catalog under ``sync/registry/translations/`` (msgids are English; the Chinese catalog
must translate every one — ``tests/sync/test_public_i18n.py`` checks). To update it::

    pybabel extract -F babel.cfg -k _l -o /tmp/registry.pot sync/registry
    pybabel update -i /tmp/registry.pot -d sync/registry/translations -l zh_Hans_CN
    pybabel compile -d sync/registry/translations
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, current_app, request, session
from flask_babel import Babel, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from certs.identity import SHANGHAI

TRANSLATIONS = Path(__file__).parent / "translations"
LANGUAGES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"


def select_locale() -> str:
    wanted = request.args.get("lang")
    if wanted in LANGUAGES:
        session["lang"] = wanted
        return wanted
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def current_locale() -> str:
    """``zh_CN`` or ``en``: for ``<html lang>`` and the language switch."""
    locale = get_locale()
    return "zh_CN" if locale is None or locale.language == "zh" else "en"


def init_app(app: Flask) -> None:
    """Flask-Babel for the registry (once per app)."""
    if "babel" in app.extensions:
        return
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    Babel(app, locale_selector=select_locale,
          default_translation_directories=str(TRANSLATIONS))  # fmt: skip
    app.jinja_env.globals["current_locale"] = current_locale


# --------------------------------------------------------------------------- verdict wording


def local_time(moment: Any) -> str:
    """A stored UTC time as people in the province read it (Asia/Shanghai)."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


_ERRORS = {  # error code -> what it means, in plain words
    "malformed": _l("This is not a complete certificate code: it may be cut off or mistyped. "
                    "Scan the QR code again."),
    "unknown_version": _l("This certificate code uses a newer format than this service reads."),
    "unknown_key": _l("The code is signed with a key that no enrolled station holds: it was not "
                      "issued through this registry's stations."),
    "bad_signature": _l("The signature does not match the content: the code was altered or "
                        "forged."),
    "key_not_valid": _l("The signing key was not valid on the certificate's issue date."),
    "wrong_station": _l("The signing key belongs to another station than the one in the "
                        "certificate number."),
    "unrecognised": _l("This is neither a certificate QR code, a verification link nor a "
                       "certificate number."),
    "empty": _l("Nothing to check: the input is empty."),
    "too_long": _l("The input is too long to be a certificate code."),
}  # fmt: skip


TOO_MANY_REQUESTS = _l("Too many requests from your address. Please wait a moment and try again.")


def error_text(code: str) -> str:
    return str(_ERRORS.get(code, _ERRORS["malformed"]))


def verdict_message(v: Any) -> str:
    """One sentence for people: what the status means for this certificate."""
    if v.status == "valid":
        if v.kind == "token":
            return _("Genuine and recorded by the registry; not revoked.")
        return _("Recorded by the registry; not revoked.")
    if v.status == "revoked":
        r = v.recorded.revocation  # type: ignore[union-attr]
        return _("Revoked on %(when)s: %(reason)s", when=local_time(r.revoked_at), reason=r.reason)
    if v.status == "unrecorded":
        return _(
            "The signature is genuine, but the issuing station has not yet sent this "
            "certificate to the registry (stations that work offline send it when they are "
            "back online). Its revocation status cannot be confirmed until then."
        )
    if v.status == "mismatch":
        return _(
            "The signature is genuine, but the code differs from what the registry recorded "
            "under this number. Do not rely on it; ask the issuing station."
        )
    if v.status == "not_found":
        return _("No certificate with this number is recorded by the registry.")
    return error_text(v.error or "malformed")
