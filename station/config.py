"""Station configuration: defaults, the instance folder, and the instance's config file.

The instance folder holds everything that belongs to one site: ``config.py`` (secrets and
settings written by ``station init``), ``station.db`` and ``backups/``. ``STATION_INSTANCE``
selects it, so tests and scripts can point at a temp dir.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DEFAULTS = {
    "STATION_CODE": "000000",  # 6-digit site code used in certificate numbers
    "STATION_NAME": "SkillCert 考核站点",
    # Certificate numbers (人社鉴发〔2019〕2号): S (评价机构) or Y (用人单位), the 4-digit agency
    # code the authority gave the organisation, and the 2-digit province code.
    "CERT_PREFIX": "S",
    "CERT_AGENCY_CODE": "0001",
    "CERT_PROVINCE_CODE": "",  # default: the first two digits of STATION_CODE (行政区划代码)
    "CERT_ISSUER_NAME": "",  # 发证机构 printed on certificates; default: the programme's issuer
    # The provincial registry: its verify page is what a certificate's QR code opens.
    "REGISTRY_URL": "https://verify.example.gov.cn",
    "BABEL_DEFAULT_LOCALE": "zh_CN",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
    "LANGUAGES": ["zh_CN", "en"],
    "BACKUP_KEEP": 14,  # nightly backups kept
    "BACKUP_HOUR": 2,  # local time of the nightly backup
    "SCHEDULER_ENABLED": True,
    "MAX_CONTENT_LENGTH": 256 * 1024 * 1024,  # bank packages with media can be large
    "SESSION_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,  # a console page can stay open through a whole exam day
}


def instance_path(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit).resolve()
    env = os.environ.get("STATION_INSTANCE")
    if env:
        return Path(env).resolve()
    return (Path.cwd() / "instance").resolve()


def database_path(instance: Path) -> Path:
    return instance / "station.db"


def config_file(instance: Path) -> Path:
    return instance / "config.py"


def write_config_file(instance: Path, *, station_code: str, station_name: str) -> bool:
    """Write ``config.py`` with fresh secrets unless it exists; True when written."""
    path = config_file(instance)
    if path.exists():
        return False
    instance.mkdir(parents=True, exist_ok=True)
    # Created private: the secrets never sit in a world-readable file, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(
            "# Written by `station init`. Keep this file private: it holds the session secret and\n"
            "# the passphrase that encrypts the station's private signing key.\n"
            f"SECRET_KEY = {secrets.token_hex(32)!r}\n"
            f"KEY_PASSPHRASE = {secrets.token_urlsafe(32)!r}\n"
            f"STATION_CODE = {station_code!r}\n"
            f"STATION_NAME = {station_name!r}\n"
        )
    return True


def key_passphrase(config) -> str:
    """The private key's passphrase: the environment wins over the instance config."""
    return os.environ.get("STATION_KEY_PASSPHRASE") or config.get("KEY_PASSPHRASE") or ""
