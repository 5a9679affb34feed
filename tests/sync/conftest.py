"""Registry fixtures: real PostgreSQL when REGISTRY_TEST_DATABASE_URL is set (CI sets it), each
test in a schema of its own that is dropped afterwards; SQLite in a temp dir otherwise."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import text

from sync.registry import create_app, db


@pytest.fixture
def registry_url(tmp_path):
    base = os.environ.get("REGISTRY_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = db.make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def registry_app(registry_url, tmp_path):
    # Rate-limit counters of their own: Redis keeps them from one test (and run) to the next.
    app = create_app({"TESTING": True, "DATABASE_URL": registry_url,
                      "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}"},
                     instance_path=str(tmp_path / "registry-instance"))  # fmt: skip
    yield app
    app.extensions["registry_engine"].dispose()


@pytest.fixture
def app(registry_app):
    """The registry initialised (root key, secrets) as `registry init` leaves it."""
    from tests.sync.registry_helpers import init_registry

    init_registry(registry_app)
    return registry_app


@pytest.fixture
def station(app):
    """Station 440301, enrolled with its one-time token."""
    from tests.sync.registry_helpers import StationSim

    sim = StationSim(app, "440301")
    sim.enroll()
    return sim


@pytest.fixture(scope="module")
def big_store():
    """The 70-leaf in-memory log of ``tests.sync.test_merkle.DATA``."""
    from sync.merkle import MemoryStore
    from tests.sync.test_merkle import DATA

    store = MemoryStore()
    for data in DATA:
        store.append(data)
    return store
