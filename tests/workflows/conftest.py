"""Fixtures of the workflow pages' tests."""

import json
from pathlib import Path

import pytest

from workflows.templatetags import editor_assets


@pytest.fixture
def built_editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The editor as a build leaves it: a Vite manifest naming its script and stylesheet."""
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"src/main.tsx": {
        "file": "assets/main-abc123.js", "isEntry": True, "css": ["assets/main-def456.css"]}}))
    monkeypatch.setattr(editor_assets, "manifest_path", lambda: manifest)
    return manifest
