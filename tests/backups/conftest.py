from __future__ import annotations

import pytest

from .support import AgeKey, make_age_key


@pytest.fixture
def age_key(tmp_path) -> AgeKey:
    return make_age_key(tmp_path)
