"""pytest plugin for the Aura workspace (registered through the ``pytest11`` entry point)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only (the backend the handlers are measured on)."""
    return "asyncio"
