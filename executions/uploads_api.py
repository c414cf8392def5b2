"""Uploads API (mounted at the API root, paths as docs/api.md gives them): POST /uploads, and the
hosted API's POST /media/upload (a file or a URL) and GET /media."""

from typing import Any

from django.core.files.uploadedfile import UploadedFile as StoredFile
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import BaseModel, Field, field_validator

from accounts.auth import ApiAuth, caller_of
from accounts.permissions import Action, require_role
from accounts.scopes import WORKFLOWS_READ, WORKFLOWS_WRITE
from wireflow_site.errors import InvalidRequest, PayloadTooLarge
from workflows.schemas import COMMON_ERRORS, ErrorOut, Timestamp, parsed_body, storable

from .models import Upload
from .uploads import (
    LIST_MAX,
    missing_file,
    upload_create,
    upload_from_url,
    upload_url,
    uploads_for_team,
)

router = Router(tags=["uploads"])

_read = ApiAuth(WORKFLOWS_READ)
_write = ApiAuth(WORKFLOWS_WRITE)
_MULTIPART = "multipart/form-data"
URL_MAX = 2048


class MediaOut(Schema):
    id: str
    url: str = Field(description="Absolute URL of the file; unguessable, readable by anyone "
                                 "who has it (give it to an input node)")
    contentType: str = Field(description="The type recognised from the content")
    size: int = Field(description="Bytes")


class UploadOut(MediaOut):
    width: int | None = Field(None, description="Images only: pixels")
    height: int | None = Field(None, description="Images only: pixels")
    durationSeconds: float | None = Field(None, description="Audio and video, when known")


def upload_out(upload: Upload) -> dict[str, Any]:
    return {"id": str(upload.pk), "url": upload_url(upload), "contentType": upload.content_type,
            "size": upload.size, "width": upload.width, "height": upload.height,
            "durationSeconds": upload.duration_seconds}


_UPLOAD_DESCRIPTION = (
    "Images (PNG, JPEG, WebP, GIF), video (MP4, WebM) and audio (MP3, WAV, Ogg) are recognised "
    "by their content, not their name: anything else is 415 `unsupported_media_type`. Over the "
    "size limit (50 MB unless configured) is 413 `payload_too_large`; no `file` field is 400 "
    "`invalid_request`; a body sent without a Content-Length (chunked) is 411 "
    "`length_required`.")


@router.post("/uploads", auth=_write, exclude_none=True,
             response={201: UploadOut, 411: ErrorOut, 415: ErrorOut, **COMMON_ERRORS},
             summary="Upload an image, video or audio file for an input node",
             description=f"Multipart field `file`. {_UPLOAD_DESCRIPTION}")
def create_upload(request: HttpRequest, file: File[UploadedFile | None] = None) -> Any:
    caller = caller_of(request)
    require_role(caller.user, caller.team, Action.MODIFY)
    if file is None:
        raise missing_file(request)
    upload = upload_create(team=caller.team, user=caller.user, file=file)
    return Status(201, upload_out(upload))


# --- The hosted API's media endpoints ------------------------------------------------------

class MediaUrlIn(BaseModel):
    url: str = Field(max_length=URL_MAX, description="An http(s) URL of the file to fetch")

    @field_validator("url")
    @classmethod
    def _storable(cls, value: str) -> str:
        stored: str = storable(value.strip())
        return stored


class MediaUploadedOut(Schema):
    data: MediaOut


class MediaItemOut(MediaOut):
    createdAt: Timestamp


class MediaListOut(Schema):
    data: list[MediaItemOut]


class MediaQuery(Schema):
    limit: int = Field(100, ge=1, le=LIST_MAX)


def media_out(upload: Upload) -> dict[str, Any]:
    return {"id": str(upload.pk), "url": upload_url(upload),
            "contentType": upload.content_type, "size": upload.size}


_MEDIA_BODY_OPENAPI = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {
        "type": "object", "required": ["url"],
        "properties": {"url": {"type": "string", "maxLength": URL_MAX,
                               "description": "Fetched by the server (public addresses "
                                              "only), with the same limits as a file"}}}},
    _MULTIPART: {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"}}}},
}}}


@router.post("/media/upload", auth=_write,
             response={201: MediaUploadedOut, 411: ErrorOut, 415: ErrorOut, 422: ErrorOut,
                       **COMMON_ERRORS},
             openapi_extra=_MEDIA_BODY_OPENAPI,
             summary="Upload a media file, or have the server fetch one by URL",
             description="Multipart field `file`, or JSON `{url}` (fetched through the SSRF "
                         "guard: a private or otherwise refused address is 400 `invalid_url`, "
                         "a URL that cannot be fetched 422 `url_fetch_failed`). "
                         f"{_UPLOAD_DESCRIPTION} Stored like POST /uploads.")
def upload_media(request: HttpRequest) -> Any:
    caller = caller_of(request)
    require_role(caller.user, caller.team, Action.MODIFY)
    if request.content_type == _MULTIPART:
        upload = upload_create(team=caller.team, user=caller.user, file=_file(request))
    else:
        upload = upload_from_url(team=caller.team, user=caller.user, url=_url(request))
    return Status(201, {"data": media_out(upload)})


@router.get("/media", auth=_read, response={200: MediaListOut, **COMMON_ERRORS},
            summary="The team's uploaded media, newest first")
def list_media(request: HttpRequest, query: Query[MediaQuery]) -> Any:
    caller = caller_of(request)
    require_role(caller.user, caller.team, Action.READ)
    return {"data": [{**media_out(upload), "createdAt": upload.created_at}
                     for upload in uploads_for_team(caller.team, limit=query.limit)]}


def _file(request: HttpRequest) -> StoredFile:
    try:
        file = request.FILES.get("file")
    except PayloadTooLarge:
        raise
    except MultiPartParserError as exc:
        raise InvalidRequest(f"Malformed multipart body: {exc}", fields=["file"]) from None
    if file is None:
        raise missing_file(request)
    return file


def _url(request: HttpRequest) -> str:
    if not request.body:
        raise InvalidRequest("Send a multipart `file`, or a JSON object with `url`",
                             fields=["file", "url"])
    return parsed_body(request.body, MediaUrlIn).url
