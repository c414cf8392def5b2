"""Media files (images, videos, audio) written and read through Django's default storage.

URLs handed out are absolute, because they travel in node outputs, webhooks and provider
payloads that are read outside this site. The storage decides where the bytes live (the local
disk by default, a bucket in a deployment that configures one).
"""

import uuid
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone


def save_media(content: bytes, ext: str, content_type: str, *, folder: str = "media") -> str:
    """Stores the bytes under `<folder>/<yyyy>/<mm>/<uuid>.<ext>` and returns their URL."""
    now = timezone.now()
    name = f"{folder}/{now:%Y}/{now:%m}/{uuid.uuid4().hex}.{ext.lstrip('.').lower()}"
    file = ContentFile(content)
    # Object storages (django-storages) read this attribute; the filesystem ignores it.
    file.content_type = content_type  # type: ignore[attr-defined]
    saved = default_storage.save(name, file)
    return absolute_media_url(default_storage.url(saved))


def absolute_media_url(url: str) -> str:
    return url if urlsplit(url).scheme else f"{settings.SITE_URL}{url}"


def open_media_by_url(url: str) -> bytes | None:
    """The bytes of a file of ours named by its URL (absolute or not), or None if it is not ours
    or does not exist."""
    name = media_name_for_url(url)
    if name is None:
        return None
    try:
        with default_storage.open(name, "rb") as file:
            return bytes(file.read())
    except (OSError, SuspiciousFileOperation):
        return None


def media_name_for_url(url: str) -> str | None:
    base = _storage_base_url()
    for prefix in {base, absolute_media_url(base)}:
        if url.startswith(prefix) and len(url) > len(prefix):
            name = unquote(urlsplit(url[len(prefix):]).path)
            return None if _escapes(name) else name
    return None


def _storage_base_url() -> str:
    # The URL of a file named "_", less that name and any query: a storage that signs its URLs
    # (S3 with WIREFLOW_S3_SIGNED_URLS) cannot sign an empty name.
    probe = urlsplit(default_storage.url("_"))
    return probe._replace(query="", fragment="").geturl().removesuffix("_")


def _escapes(name: str) -> bool:
    parts = name.split("/")
    return name.startswith("/") or ".." in parts or "\\" in name
