"""Shared test fixtures.

Tests that read ``../shared`` (the read-only reference data beside the checkout) use the
``shared_dir`` fixture: outside CI they skip with a clear reason when it is missing; with
``CI=true`` they fail instead, so CI can never pass by silently skipping them.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HDNNP_SHARED", REPO.parent / "shared"))


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_shared(*parts: str) -> Path:
    """Path inside ../shared; skip (locally) or fail (CI=true) when it does not exist."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        msg = f"shared reference data not found: {path} (set HDNNP_SHARED or put shared/ beside the repo)"
        if _in_ci():
            pytest.fail(msg + " — CI=true, so this is a failure, not a skip")
        pytest.skip(msg)
    return path


@pytest.fixture
def shared_dir() -> Path:
    return require_shared()
