#!/usr/bin/env bash
# Sets up everything the tests need and runs the whole suite, then the linters.
# Registry tests use REGISTRY_TEST_DATABASE_URL (PostgreSQL) when set, SQLite otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test
.venv/bin/python -m pytest "$@"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
