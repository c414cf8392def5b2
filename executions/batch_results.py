"""A batch's results as files: results.csv (a line per row: its inputs, status, output URLs and
texts) and results.zip (the media files of its outputs, named by row and node), and the
reading of an uploaded CSV of rows.

Bounds: an uploaded CSV is read up to BATCH_MAX_ROWS rows with fields of at most
CSV_FIELD_MAX characters; the ZIP stops adding files at ZIP_MAX_BYTES or after
ZIP_MAX_SECONDS (a note in the archive says what was left out). Media of our own is read
through the storage (executions/media.py); any other URL only through the SSRF guard.
"""

import csv
import io
import logging
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage

from wireflow_site.errors import InvalidRequest

from . import ssrf
from .batch_selectors import NodeOutput, batch_rows_all, outputs_of
from .media import media_name_for_url, open_media_by_url
from .models import Batch, BatchRow

logger = logging.getLogger("wireflow.batches")
CSV_FIELD_MAX = 64 * 1024
FILE_MAX_BYTES = 100 * 1024 * 1024
ZIP_MAX_BYTES = 1024 * 1024 * 1024
ZIP_MAX_SECONDS = 300.0
FETCH_TIMEOUT = 30.0
# A spreadsheet runs a cell that starts with one of these as a formula: such cells are written
# with a leading apostrophe (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SAFE_EXT = re.compile(r"^[a-z0-9]{1,5}$")


# --- Reading an uploaded CSV ----------------------------------------------------------------

def rows_from_csv(raw: bytes) -> list[dict[str, str]]:
    """The CSV's rows as {column: cell}, empty cells left out (the node keeps its value). The
    header row names the columns (input node ids or labels). A bad file is a 400."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequest("The CSV file is not UTF-8 text", fields=["file"]) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = _header(next(reader, None))
        rows: list[dict[str, str]] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank lines
            if len(rows) >= settings.BATCH_MAX_ROWS:
                raise InvalidRequest(f"Too many rows (at most {settings.BATCH_MAX_ROWS})",
                                     fields=["file"])
            rows.append(_row(header, cells, reader.line_num))
    except csv.Error as exc:
        raise InvalidRequest(f"The CSV file cannot be read (line {reader.line_num}): {exc}",
                             fields=["file"]) from None
    return rows


def _header(cells: list[str] | None) -> list[str]:
    names = [cell.strip() for cell in cells or []]
    if not names or not any(names):
        raise InvalidRequest("The CSV file has no header row", fields=["file"])
    if "" in names:
        raise InvalidRequest(f"The CSV header has an empty column name (column "
                             f"{names.index('') + 1})", fields=["file"])
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidRequest(f"The CSV header repeats a column: {', '.join(duplicates)}",
                             fields=["file"])
    for name in names:
        _check_size(name, 1)
    return names


def _row(header: list[str], cells: list[str], line: int) -> dict[str, str]:
    if len(cells) > len(header):
        raise InvalidRequest(f"Line {line} of the CSV has {len(cells)} cells, more than the "
                             f"{len(header)} columns of the header", fields=["file"])
    for cell in cells:
        _check_size(cell, line)
    return {name: cell for name, cell in zip(header, cells, strict=False) if cell != ""}


def _check_size(cell: str, line: int) -> None:
    if len(cell) > CSV_FIELD_MAX:
        raise InvalidRequest(f"Line {line} of the CSV has a cell over {CSV_FIELD_MAX} "
                             "characters", fields=["file"])


# --- results.csv ----------------------------------------------------------------------------

class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a streamed response."""

    def write(self, value: str) -> str:
        return value


def results_csv(batch: Batch, input_ids: list[str]) -> Iterator[str]:
    """The lines of results.csv: row, one column per input node, status, error, executionId,
    outputUrls (space-separated), outputTexts (one per line)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(["row", *input_ids, "status", "error", "executionId", "outputUrls",
                           "outputTexts"])
    for chunk in batch_rows_all(batch):
        outputs = outputs_of(chunk)
        for row in chunk:
            found = outputs.get(row.pk, [])
            cells = [row.index, *(_cell(row.inputs.get(i)) for i in input_ids), row.status,
                     _cell(row.error), str(row.execution_id or ""),
                     " ".join(url for out in found for url in out.urls),
                     _cell("\n".join(text for out in found for text in out.texts))]
            yield writer.writerow(cells)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def input_columns(batch: Batch) -> list[str]:
    """The input node ids the rows set, in the order of the first row that sets each."""
    seen: dict[str, None] = {}
    for chunk in batch_rows_all(batch):
        for row in chunk:
            seen.update(dict.fromkeys(row.inputs))
    return list(seen)


# --- results.zip ----------------------------------------------------------------------------

@dataclass(frozen=True)
class MediaFile:
    name: str  # in the archive: row-003-<nodeId>.png, then -2, -3 for a node's further files
    url: str


def media_files(rows: Iterable[BatchRow], outputs: dict[int, list[NodeOutput]]
                ) -> Iterator[MediaFile]:
    for row in rows:
        for out in outputs.get(row.pk, []):
            for n, url in enumerate(out.urls, 1):
                suffix = "" if n == 1 else f"-{n}"
                node = re.sub(r"[^A-Za-z0-9_.-]", "_", out.node_id)[:80]
                yield MediaFile(f"row-{row.index:03d}-{node}{suffix}{_extension(url)}", url)


def _extension(url: str) -> str:
    path = urlsplit(url).path
    ext = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return f".{ext}" if _SAFE_EXT.match(ext) else ""


def results_zip(batch: Batch) -> IO[bytes]:
    """The archive, in a temporary file (kept in memory while small), read from the start."""
    import zipfile

    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115
    budget = _Budget(time.monotonic() + ZIP_MAX_SECONDS, ZIP_MAX_BYTES)
    missing: list[str] = []
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as archive:
        for chunk in batch_rows_all(batch):
            for media in media_files(chunk, outputs_of(chunk)):
                if budget.spent():
                    missing.append(f"{media.name}\t{media.url}\tleft out: the archive's "
                                   "size or time limit was reached")
                    continue
                content, problem = _read(media.url, budget)
                if content is None:
                    missing.append(f"{media.name}\t{media.url}\t{problem}")
                    continue
                archive.writestr(media.name, content)
        if missing:
            archive.writestr("MISSING.txt", "\n".join(missing) + "\n")
    spool.seek(0)
    return spool


@dataclass
class _Budget:
    deadline: float
    bytes_left: int

    def spent(self) -> bool:
        return self.bytes_left <= 0 or time.monotonic() >= self.deadline

    def take(self, size: int) -> None:
        self.bytes_left -= size


def _read(url: str, budget: _Budget) -> tuple[bytes | None, str]:
    """A media file's bytes: ours from the storage, others through the SSRF guard."""
    limit = min(FILE_MAX_BYTES, budget.bytes_left)
    if _stored_size(url) > limit:
        return None, "too large"
    content = open_media_by_url(url)
    if content is None:
        content, problem = _fetch(url, limit, budget)
        if content is None:
            return None, problem
    if len(content) > limit:
        return None, "too large"
    budget.take(len(content))
    return content, ""


def _stored_size(url: str) -> int:
    """The size of a file of ours (0 when it is not ours or its size is unknown)."""
    name = media_name_for_url(url)
    if name is None:
        return 0
    try:
        return int(default_storage.size(name))
    except (OSError, SuspiciousFileOperation, NotImplementedError):
        return 0


def _fetch(url: str, limit: int, budget: _Budget) -> tuple[bytes | None, str]:
    timeout = min(FETCH_TIMEOUT, max(1.0, budget.deadline - time.monotonic()))
    try:
        response = ssrf.fetch("GET", url, timeout=timeout, max_bytes=limit)
    except ssrf.FetchError as exc:
        return None, f"not fetched: {exc.__class__.__name__}"
    if response.status_code != 200:
        return None, f"not fetched: HTTP {response.status_code}"
    return response.content, ""
