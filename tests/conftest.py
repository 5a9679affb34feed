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


# One Playwright instance for the whole run: its sync API runs an event loop in this thread, so a
# second instance (say, one per test package) would refuse to start while the first is open.
@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (no downloaded browser builds)."""
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh --test installs it)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield browser
        browser.close()
