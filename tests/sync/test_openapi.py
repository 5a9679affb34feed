"""The registry's OpenAPI document: valid, complete, in step with docs/, and true of a LIVE
registry (schemathesis against a werkzeug server on a loopback port)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.serving import make_server

from sync.registry import openapi
from tests.sync.test_public_verify import Seeded, register_public

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(registry_app):
    from tests.sync.registry_helpers import init_registry

    register_public(registry_app)
    registry_app.config["RATELIMIT_ENABLED"] = False
    init_registry(registry_app)
    return registry_app


def test_the_document_is_served_and_valid_openapi_3_1(app):
    validator = pytest.importorskip("openapi_spec_validator")
    served = app.test_client().get("/api/v1/openapi.json")
    assert served.status_code == 200
    document = served.get_json()
    assert document == openapi.document() and document["openapi"] == "3.1.0"
    validator.validate(document)
    scheme = document["components"]["securitySchemes"]["stationSignature"]
    assert "RFC 9421" in scheme["description"] and "Content-Digest" in scheme["description"]
    assert document["paths"]["/api/v1/sync/push"]["post"]["security"] == [{"stationSignature": []}]


def test_docs_copy_is_current():
    text = (ROOT / "docs" / "registry-api.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(text) == openapi.document(), (
        "regenerate: python -m sync.registry.openapi > docs/registry-api.yaml"
    )


def test_every_api_route_is_documented(app):
    documented = {
        (path.replace("{", "<").replace("}", ">"), method.upper())
        for path, item in openapi.document()["paths"].items() for method in item
    }  # fmt: skip
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/", "/.well-known/")):
            continue
        path = rule.rule.replace("<int:", "<")
        routes |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes - documented == set(), "undocumented routes"
    assert {p for p, _ in documented if p.startswith("/api/")} <= {p for p, _ in routes}


# --------------------------------------------------------------------------- live


@pytest.fixture
def live_registry(app):
    """The registry on a loopback port, with a few certificates recorded (one revoked)."""
    seeded = Seeded(app)
    for serial in (1, 2, 3):
        seeded.issue(serial)
    seeded.revoke(seeded.number(2))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


# The document the app serves (the first test checks they are equal); the public and log
# operations, i.e. everything anyone may call without a station key.
schema = schemathesis.openapi.from_dict(openapi.document()).include(tag=["public", "log"])


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_public_endpoints_against_a_live_registry(case, live_registry):
    """No 5xx, and every answer is what the document says: status, content type, schema."""
    case.call_and_validate(base_url=live_registry,
                           checks=[not_a_server_error, status_code_conformance,
                                   content_type_conformance, response_schema_conformance])  # fmt: skip
