"""Every repository path the documentation names exists: README.md, CONTRIBUTING.md and docs/*.md.

What counts as a path (conservative, so prose in backticks is not mistaken for one):
- an inline code span (`...`, outside fenced code blocks) without spaces that either ends in a
  known file extension, or contains a `/` and starts with a top-level entry of the repository or
  ends with `/`;
- the target of a relative Markdown link `[text](target)`, resolved from the document's folder.

Skipped: URLs, URL paths (`/api/v1/...`, `/workflows/...`: they start with `/`), globs and
placeholders (`*`, `<`, `{`, ...), and what exists only after running something (`var/`,
`.venv/`, the built editor, node_modules).

A path is resolved from the repository root. A bare file name (`graph.py`) or a path that does
not start with a top-level entry (`engine/`) is written relative to a folder the text already
named, so it must exist somewhere in the repository. Plain pytest: no database, no Django.
"""

import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
EXTENSIONS = (".py", ".md", ".ts", ".tsx", ".js", ".sh", ".json", ".html", ".css", ".toml",
              ".txt", ".yml", ".yaml", ".ini", ".cfg", ".png", ".svg")
# Made by running something (make dev, make build, npm install), not checked in.
GENERATED = ("var/", ".venv/", "static/editor/", "editor/node_modules/", "node_modules/")
NOT_SEARCHED = {".git", ".venv", "var", "node_modules", "__pycache__", ".mypy_cache",
                ".ruff_cache", ".pytest_cache", ".hypothesis", "test-results"}
# Files the documents name on purpose that are not part of this repository, with the reason.
EXTERNAL = {
    "wf.sh": "the hosted API's command-line client, from its vendor's public skill repository",
}
PLACEHOLDER = re.compile(r"[<>{}*?\[\]$=|(),;'\"\\]")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)|!\[[^\]\n]*\]\(([^)\s]+)\)")


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks (those hold commands, not claims about paths)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def top_level() -> set[str]:
    return {entry.name for entry in ROOT.iterdir()} | {"var", ".venv"}


def looks_like_path(span: str) -> bool:
    if not span or any(ch.isspace() for ch in span) or "://" in span:
        return False
    if span.startswith(("/", "~", "-", ".venv", "$")) or PLACEHOLDER.search(span):
        return False
    if span.endswith(EXTENSIONS):
        return True
    if "/" not in span:
        return False
    return span.split("/", 1)[0] in top_level() or span.endswith("/")


def code_paths(text: str) -> list[str]:
    found = []
    for line in prose_lines(text):
        for match in CODE_SPAN.finditer(line):
            span = match.group(1).strip()
            if looks_like_path(span) and not span.startswith(GENERATED) \
                    and span not in EXTERNAL:
                found.append(span)
    return found


def link_targets(text: str) -> list[str]:
    found = []
    for line in prose_lines(text):
        for match in LINK.finditer(line):
            target = (match.group(1) or match.group(2)).split("#", 1)[0]
            if target and not re.match(r"^[a-z][a-z0-9+.-]*:", target) \
                    and not target.startswith("/"):
                found.append(target)
    return found


@cache
def repository_paths() -> frozenset[str]:
    """Every file and folder of the checkout, relative to the root, folders with a final `/`."""
    paths: set[str] = set()
    stack = [ROOT]
    while stack:
        folder = stack.pop()
        for entry in folder.iterdir():
            if entry.name in NOT_SEARCHED:
                continue
            relative = entry.relative_to(ROOT).as_posix()
            if entry.is_dir():
                paths.add(relative + "/")
                stack.append(entry)
            else:
                paths.add(relative)
    return frozenset(paths)


def exists(path: str) -> bool:
    if (ROOT / path).exists():
        return True
    if path.split("/", 1)[0] in top_level() and "/" in path.rstrip("/"):
        return False  # rooted at a real top-level entry: it must be there exactly
    wanted = path if path.endswith("/") or "." in path.rsplit("/", 1)[-1] else None
    candidates = [wanted] if wanted else [path, path + "/"]
    return any(known == candidate or known.endswith("/" + candidate)
               for known in repository_paths() for candidate in candidates)


def missing_paths(doc: Path) -> list[str]:
    text = doc.read_text(encoding="utf-8")
    missing = [path for path in code_paths(text) if not exists(path)]
    missing += [target for target in link_targets(text)
                if not (doc.parent / target).resolve().exists()]
    return sorted(set(missing))


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.relative_to(ROOT).as_posix())
def test_every_path_a_document_names_exists(doc: Path) -> None:
    assert missing_paths(doc) == []


def test_the_docs_folder_has_its_guides() -> None:
    names = {doc.name for doc in DOCS if doc.parent.name == "docs"}
    assert {"api.md", "engine.md", "nodes.md", "operating.md"} <= names


# --- The extraction itself ------------------------------------------------------------------

def test_a_wrong_path_is_found(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("See `executions/engine/runer.py`, `tests/engine/nothing/`, `nowhere.py` "
                   "and [the guide](missing.md).\n")
    assert missing_paths(doc) == ["executions/engine/runer.py", "missing.md", "nowhere.py",
                                  "tests/engine/nothing/"]


def test_real_paths_pass_and_what_is_not_a_path_is_left_alone(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "`executions/engine/runner.py`, `engine/`, `graph.py`, `workflows/nodes/` are real.\n"
        "`/api/v1/workflows/{id}`, `https://queue.fal.run`, `fal-ai/flux-2`, `image/png`,\n"
        "`X-RateLimit-Limit/Remaining/Reset`, `tests/executions/fixtures/<provider>/`, `runs_*`,\n"
        "`var/dev.env`, `.venv/bin/python manage.py seed`, `static/editor/` are not checked.\n"
        "```\nscripts/not-a-claim.sh\n```\n")
    assert missing_paths(doc) == []
