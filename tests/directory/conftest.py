from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings

from directory.services import HELP_RESOURCES_FILE, LEGAL_NOTICES_FILE


@pytest.fixture
def shared_data_dir() -> Path:
    """The real reference data (/work/shared/data here, a copy beside the clone in CI)."""
    path = Path(settings.SHARED_DATA_DIR)
    assert (path / HELP_RESOURCES_FILE).is_file(), f"shared data missing at {path}"
    return path


@pytest.fixture
def data_copy(shared_data_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the real data that a test may edit."""
    for name in (HELP_RESOURCES_FILE, LEGAL_NOTICES_FILE):
        shutil.copy(shared_data_dir / name, tmp_path / name)
    return tmp_path
