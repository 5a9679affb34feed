"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_testdata() -> Path:
    path = SHARED / "testdata"
    if not path.is_dir():
        pytest.skip(f"shared test data not found at {path}")
    return path
