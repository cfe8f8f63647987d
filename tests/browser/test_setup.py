"""Without Chromium (or axe-core) the browser tests skip on a developer's
machine, but on CI, which installs both, they fail."""

from __future__ import annotations

import pytest

from .conftest import unavailable


def test_a_missing_browser_skips_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Chromium is not installed"):
        unavailable("Chromium is not installed at /nowhere")


def test_a_missing_browser_fails_on_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI installs it"):
        unavailable("Chromium is not installed at /nowhere")
