"""Uploads API (mounted at the API root, paths as api.md gives them)."""

from typing import Any

from django.http import HttpRequest
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from accounts.auth import ApiAuth, caller_of
from accounts.permissions import Action, require_role
from accounts.scopes import WORKFLOWS_WRITE
from workflows.schemas import COMMON_ERRORS, ErrorOut

from .models import Upload
from .uploads import missing_file, upload_create, upload_url

router = Router(tags=["uploads"])

_write = ApiAuth(WORKFLOWS_WRITE)


class UploadOut(Schema):
    id: str
    url: str = Field(description="Absolute URL of the file; unguessable, readable by anyone "
                                 "who has it (give it to an input node)")
    contentType: str = Field(description="The type recognised from the content")
    size: int = Field(description="Bytes")
    width: int | None = Field(None, description="Images only: pixels")
    height: int | None = Field(None, description="Images only: pixels")
    durationSeconds: float | None = Field(None, description="Audio and video, when known")


def upload_out(upload: Upload) -> dict[str, Any]:
    return {"id": str(upload.pk), "url": upload_url(upload), "contentType": upload.content_type,
            "size": upload.size, "width": upload.width, "height": upload.height,
            "durationSeconds": upload.duration_seconds}


@router.post("/uploads", auth=_write, exclude_none=True,
             response={201: UploadOut, 411: ErrorOut, 415: ErrorOut, **COMMON_ERRORS},
             summary="Upload an image, video or audio file for an input node",
             description="Multipart field `file`. Images (PNG, JPEG, WebP, GIF), video (MP4, "
                         "WebM) and audio (MP3, WAV, Ogg) are recognised by their content, "
                         "not their name: anything else is 415 `unsupported_media_type`. "
                         "Over the size limit (50 MB unless configured) is 413 "
                         "`payload_too_large`; no `file` field is 400 `invalid_request`; a body "
                         "sent without a Content-Length (chunked) is 411 `length_required`.")
def create_upload(request: HttpRequest, file: File[UploadedFile | None] = None) -> Any:
    caller = caller_of(request)
    require_role(caller.user, caller.team, Action.MODIFY)
    if file is None:
        raise missing_file(request)
    upload = upload_create(team=caller.team, user=caller.user, file=file)
    return Status(201, upload_out(upload))
