"""Helpers for the station keys the certificate tests use (fixtures are in conftest.py)."""

from __future__ import annotations

from certs import keys


def kid_of(private) -> str:
    return keys.key_id(private.public_key(), "st-")
