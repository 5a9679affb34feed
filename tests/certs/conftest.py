"""Keys shared by the certificate tests: a station's key before and after a rotation."""

from __future__ import annotations

import pytest

from certs import keys


@pytest.fixture(scope="module")
def old_key():
    return keys.generate()


@pytest.fixture(scope="module")
def new_key():
    return keys.generate()
