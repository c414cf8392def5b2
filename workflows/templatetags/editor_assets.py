"""`{% editor_assets as assets %}`: the script and styles of the built canvas editor;
`{% editor_assets "src/charts/main.ts" as assets %}` those of another entry of the same build.

Vite writes hashed file names to static/editor/.vite/manifest.json; this tag reads it (again
only when the file changes) so the page always loads the current build.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django import template
from django.conf import settings
from django.templatetags.static import static

register = template.Library()

ENTRY = "src/main.tsx"
CHARTS_ENTRY = "src/charts/main.ts"
_cache: dict[tuple[str, str], tuple[float, "EditorAssets"]] = {}


@dataclass(frozen=True)
class EditorAssets:
    script: str
    styles: tuple[str, ...]


def manifest_path() -> Path:
    return Path(settings.BASE_DIR) / "static" / "editor" / ".vite" / "manifest.json"


def editor_assets_from_manifest(path: Path | None = None, entry: str = ENTRY
                                ) -> EditorAssets | None:
    """The entry's JS and CSS paths (relative to static/editor/), or None if not built."""
    path = path or manifest_path()
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    cached = _cache.get((str(path), entry))
    if cached and cached[0] == mtime:
        return cached[1]
    assets = _parse(path, entry)
    if assets is not None:
        _cache[(str(path), entry)] = (mtime, assets)
    return assets


def _parse(path: Path, name: str) -> EditorAssets | None:
    try:
        manifest: Any = json.loads(path.read_text())
        entry = manifest[name]
        return EditorAssets(script=str(entry["file"]),
                            styles=tuple(str(css) for css in entry.get("css", [])))
    except (OSError, ValueError, KeyError, TypeError):
        # A half-written or foreign manifest: treat the editor as not built.
        return None


@register.simple_tag
def editor_assets(entry: str = ENTRY) -> dict[str, Any] | None:
    """Use as `{% editor_assets as assets %}`: static URLs of the script and styles, or None."""
    assets = editor_assets_from_manifest(entry=entry)
    if assets is None:
        return None
    return {"script": static(f"editor/{assets.script}"),
            "styles": [static(f"editor/{css}") for css in assets.styles]}
