"""Media uploads: images, videos and audio a person gives an input node.

A file is recognised by its content (magic numbers, then a parse by Pillow or mutagen), never
by its name or the Content-Type the client declared; anything else is refused with 415. It is
stored through the default storage under an unguessable folder (the URL is the capability to
read it), with a name whose extension comes from the recognised type, so the server that hands
it out (Django's media view, or the bucket) labels it with that type and nothing else.

The size is bounded before anything is kept: by the declared Content-Length before the body is
read (wireflow_site/middleware.py, with room for the multipart framing), then by every file's
bytes as the body is parsed (`UploadSizeLimitHandler`, first in settings.FILE_UPLOAD_HANDLERS,
stops the parse as soon as they pass the limit). Files over FILE_UPLOAD_MAX_MEMORY_SIZE are
spooled to disk, never held in memory. Django parses a multipart body only up to its declared
length, and not at all without one: a chunked upload is answered 411.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any
from urllib.parse import urlsplit

import filetype
import mutagen
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.db import transaction
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError
from django.utils.text import slugify
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.ogg import OggFileType
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggspeex import OggSpeex
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE
from PIL import Image

from accounts.models import Team, User
from wireflow_site.errors import ApiError, InvalidRequest, PayloadTooLarge, Unprocessable

from . import ssrf
from .media import absolute_media_url, open_media_by_url
from .models import Upload

logger = logging.getLogger("wireflow.uploads")

SNIFF_BYTES = 8192  # what filetype looks at
URL_FETCH_TIMEOUT_SECONDS = 30.0  # the whole fetch of a file by URL, redirects included
LIST_MAX = 200
TOKEN_BYTES = 32  # 256 bits of randomness in every upload's URL
MAX_NAME_STEM = 60


class FileTooLarge(PayloadTooLarge, MultiPartParserError):
    """413. Also a MultiPartParserError, so that Django marks the request's body as unreadable
    when the upload handler raises it in the middle of parsing."""

    message = "The file is too large"


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"
    message = ("Unsupported file type: upload an image (PNG, JPEG, WebP, GIF), a video "
               "(MP4, WebM) or audio (MP3, WAV, Ogg)")


def missing_file(request: HttpRequest) -> ApiError:
    """Why a request has no file: Django parses a multipart body only when its length was
    declared, so a chunked one (no Content-Length) arrives empty."""
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        return ApiError("Send the file with a Content-Length header (not chunked)",
                        code="length_required", status=411)
    return InvalidRequest("Missing file: send it as the multipart form field `file`",
                          fields=["file"])


def too_large() -> FileTooLarge:
    megabytes = settings.UPLOAD_MAX_BYTES / (1024 * 1024)
    return FileTooLarge(f"The file is too large: the limit is {megabytes:g} MB")


class UploadSizeLimitHandler(FileUploadHandler):
    """Counts the bytes of every file in a multipart body as they arrive and stops the parse as
    soon as they pass UPLOAD_MAX_BYTES (whatever the body declared)."""

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.UPLOAD_MAX_BYTES:
            raise too_large()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handlers build the file


# --- Recognising the content -------------------------------------------------------------

@dataclass(frozen=True)
class MediaKind:
    content_type: str
    extension: str
    check: Callable[[IO[bytes], MediaKind], Measured]


@dataclass(frozen=True)
class Measured:
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None


def _image(file: IO[bytes], kind: MediaKind) -> Measured:
    pil_format = {"jpg": "JPEG", "gif": "GIF", "png": "PNG", "webp": "WEBP"}[kind.extension]
    try:
        with Image.open(file, formats=[pil_format]) as image:
            width, height = image.size
            image.verify()  # checks the structure (PNG chunks and their CRCs) without decoding
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise UnsupportedMediaType(f"The file is not a readable {kind.extension.upper()} "
                                   "image") from exc
    return Measured(width=width, height=height)


def _timed(parser: Callable[[IO[bytes]], Any]) -> Callable[[IO[bytes], MediaKind], Measured]:
    def check(file: IO[bytes], kind: MediaKind) -> Measured:
        try:
            parsed = parser(file)
        except (mutagen.MutagenError, ValueError, EOFError) as exc:
            raise UnsupportedMediaType(f"The file is not a readable {kind.extension.upper()} "
                                       "file") from exc
        if parsed is None:
            raise UnsupportedMediaType(f"The file is not a readable {kind.extension.upper()} "
                                       "file")
        length = getattr(parsed.info, "length", None)
        return Measured(duration_seconds=round(float(length), 3) if length else None)

    return check


def _ogg(file: IO[bytes]) -> OggFileType | None:
    # Audio codecs only: an Ogg Theora video is not audio (and not one of our video types).
    options = [OggVorbis, OggOpus, OggFLAC, OggSpeex]
    return mutagen.File(file, options=options)  # type: ignore[no-any-return]


def _webm(file: IO[bytes], kind: MediaKind) -> Measured:
    # filetype has read the EBML header and its "webm" document type; nothing in our
    # dependencies parses Matroska further, so its duration stays unknown.
    return Measured()


KINDS: dict[str, MediaKind] = {kind.content_type: kind for kind in (
    MediaKind("image/png", "png", _image),
    MediaKind("image/jpeg", "jpg", _image),
    MediaKind("image/webp", "webp", _image),
    MediaKind("image/gif", "gif", _image),
    MediaKind("video/mp4", "mp4", _timed(MP4)),
    MediaKind("video/webm", "webm", _webm),
    MediaKind("audio/mpeg", "mp3", _timed(MP3)),
    MediaKind("audio/wav", "wav", _timed(WAVE)),
    MediaKind("audio/ogg", "ogg", _timed(_ogg)),
)}
# filetype's names for the same types.
_ALIASES = {"audio/x-wav": "audio/wav"}


def recognise(file: IO[bytes]) -> tuple[MediaKind, Measured]:
    """The kind of media in the file and its measures, or 415."""
    file.seek(0)
    guessed = filetype.guess(file.read(SNIFF_BYTES))
    mime = _ALIASES.get(guessed.mime, guessed.mime) if guessed is not None else ""
    kind = KINDS.get(mime)
    if kind is None:
        raise UnsupportedMediaType()
    file.seek(0)
    measured = kind.check(file, kind)
    file.seek(0)
    return kind, measured


# --- Storing -----------------------------------------------------------------------------

def _stored_name(original: str, kind: MediaKind) -> str:
    stem = slugify(PurePosixPath(original.replace("\\", "/")).stem)[:MAX_NAME_STEM].strip("-_")
    return f"{stem or 'upload'}.{kind.extension}"


def upload_create(*, team: Team, user: User | None, file: UploadedFile) -> Upload:
    """Recognises, measures and stores an uploaded file for the team."""
    if file.size is None or file.size > settings.UPLOAD_MAX_BYTES:
        raise too_large()
    kind, measured = recognise(file)
    upload = Upload(team=team, created_by=user, token=secrets.token_urlsafe(TOKEN_BYTES),
                    original_name=(file.name or "")[:255], content_type=kind.content_type,
                    size=file.size, width=measured.width, height=measured.height,
                    duration_seconds=measured.duration_seconds)
    # Object storages (django-storages) read this attribute for the object's Content-Type.
    file.content_type = kind.content_type
    upload.file.save(_stored_name(file.name or "", kind), file, save=False)
    try:
        with transaction.atomic():
            upload.save(force_insert=True)
    except Exception:
        upload.file.delete(save=False)  # no file without its row
        raise
    logger.info("upload %s stored (%s, %d bytes)", upload.pk, kind.content_type, file.size)
    return upload


def upload_url(upload: Upload) -> str:
    return absolute_media_url(upload.file.url)


# --- By URL ------------------------------------------------------------------------------

def upload_from_url(*, team: Team, user: User | None, url: str) -> Upload:
    """Fetches the file at `url` through the SSRF guard (bounded by UPLOAD_MAX_BYTES while it
    streams, and by a timeout) and stores it as an upload, recognised like any other. Our own
    media is read from storage: no HTTP round trip to ourselves."""
    content = open_media_by_url(url)
    if content is None:
        content = _fetched(url)
    if len(content) > settings.UPLOAD_MAX_BYTES:
        raise too_large()
    name = PurePosixPath(urlsplit(url).path).name or "upload"
    return upload_create(team=team, user=user, file=SimpleUploadedFile(name[:255], content))


def _fetched(url: str) -> bytes:
    try:
        response = ssrf.fetch("GET", url, timeout=URL_FETCH_TIMEOUT_SECONDS,
                              max_bytes=settings.UPLOAD_MAX_BYTES)
    except ssrf.ResponseTooLarge:
        raise too_large() from None
    except ssrf.BlockedUrl as exc:
        raise InvalidRequest(str(exc), code="invalid_url", fields=["url"]) from None
    except ssrf.FetchError as exc:  # unresolvable, refused, timed out, too many redirects
        raise Unprocessable(f"The URL could not be fetched: {exc}",
                            code="url_fetch_failed") from None
    if not 200 <= response.status_code < 300:
        raise Unprocessable(f"The URL could not be fetched: it answered HTTP "
                            f"{response.status_code}", code="url_fetch_failed")
    return response.content


def uploads_for_team(team: Team, *, limit: int = 100) -> list[Upload]:
    """The team's uploads, newest first."""
    return list(Upload.objects.filter(team=team)
                .order_by("-created_at", "-pk")[:min(limit, LIST_MAX)])
