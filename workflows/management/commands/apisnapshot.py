"""Write what the editor is built and tested against: the OpenAPI document (its TypeScript
types are generated from it) and the node catalogue exactly as GET /api/v1/nodes serves it.

Both files are checked in, so a change on the server shows up in the editor's diff, type check
and tests. `--check` changes nothing and fails when a file is stale (make test runs it).
"""

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workflows.nodes import all_types, catalogue_entry
from workflows.nodes.api import CatalogueOut

EDITOR = Path(settings.BASE_DIR) / "editor"
OPENAPI_PATH = EDITOR / "src" / "api" / "openapi.json"
CATALOGUE_PATH = EDITOR / "src" / "test" / "catalogue.json"


def openapi_document() -> dict[str, Any]:
    from wireflow_site.api import api  # the API imports every app's routers

    return dict(api.get_openapi_schema(path_prefix="/api/v1"))


def catalogue_document() -> dict[str, Any]:
    """GET /api/v1/nodes' body, through its response schema as the endpoint serves it."""
    served = {"nodes": [catalogue_entry(nt) for nt in all_types()]}
    return CatalogueOut.model_validate(served).model_dump(mode="json")


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def snapshots() -> dict[Path, str]:
    return {OPENAPI_PATH: render(openapi_document()), CATALOGUE_PATH: render(catalogue_document())}


class Command(BaseCommand):
    help = "Write editor/src/api/openapi.json and editor/src/test/catalogue.json (--check: " \
           "fail if they are stale)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--check", action="store_true",
                            help="Change nothing; exit 1 when a snapshot is out of date.")

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        stale = [path for path, text in snapshots().items()
                 if not path.exists() or path.read_text() != text]
        if check:
            if stale:
                names = ", ".join(str(p.relative_to(settings.BASE_DIR)) for p in stale)
                raise CommandError(f"Stale API snapshot: {names}. Run `make api-snapshot` "
                                   "and commit the result.")
            self.stdout.write("API snapshots are current.")
            return
        for path, text in snapshots().items():
            path.write_text(text)
            self.stdout.write(f"Wrote {path.relative_to(settings.BASE_DIR)}")
