"""Where uploads are stored: the local disk (served by the site) unless WIREFLOW_S3_BUCKET names
an S3-compatible bucket, configured from the WIREFLOW_S3_* variables. Checked in a fresh process
(settings are read once); no bucket is contacted."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
file = ContentFile(b"x", name="a.png")
file.content_type = "image/png"
from executions.media import media_name_for_url
_ = default_storage.url  # resolves the lazy object
storage = default_storage._wrapped
url = default_storage.url("uploads/tok/a.png")
out = {"backend": type(storage).__name__, "serve_media": settings.SERVE_MEDIA, "url": url,
       "name": media_name_for_url(url)}
if out["backend"] == "S3Storage":
    out.update(endpoint=storage.endpoint_url, region=storage.region_name,
               overwrite=storage.file_overwrite, location=storage.location,
               write=storage._get_write_parameters("a.png", file))
print(json.dumps(out))
"""


def _probe(tmp_path: Path, **env: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("WIREFLOW_S3_", "AWS_")) and k not in {"DATABASE_URL"}}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**clean, "DJANGO_SETTINGS_MODULE": "wireflow_site.settings", "DEBUG": "1",
             "WIREFLOW_VAR_DIR": str(tmp_path), "WIREFLOW_ENV_FILE": "", **env},
        check=False)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_by_default_media_is_on_the_local_disk_and_served_by_the_site(tmp_path: Path) -> None:
    probe = _probe(tmp_path)
    assert probe["backend"] == "FileSystemStorage" and probe["serve_media"] is True
    assert probe["url"] == "/media/uploads/tok/a.png"
    assert probe["name"] == "uploads/tok/a.png"  # the engine reads its own media from storage


def test_a_public_bucket_gives_plain_urls_on_its_domain(tmp_path: Path) -> None:
    probe = _probe(tmp_path, WIREFLOW_S3_BUCKET="wireflow-media",
                   WIREFLOW_S3_ENDPOINT_URL="https://s3.example.com",
                   WIREFLOW_S3_REGION="eu-west-1", WIREFLOW_S3_ACCESS_KEY_ID="AKIAEXAMPLE",
                   WIREFLOW_S3_SECRET_ACCESS_KEY="secret", WIREFLOW_S3_PREFIX="media",
                   WIREFLOW_S3_CUSTOM_DOMAIN="cdn.example.com")
    assert probe["backend"] == "S3Storage" and probe["serve_media"] is False
    assert (probe["endpoint"], probe["region"], probe["location"]) == (
        "https://s3.example.com", "eu-west-1", "media")
    assert probe["overwrite"] is False
    assert probe["url"] == "https://cdn.example.com/media/uploads/tok/a.png"
    assert probe["name"] == "uploads/tok/a.png"
    # The object is labelled with the type recognised from its content.
    assert probe["write"]["ContentType"] == "image/png"


def test_a_private_bucket_gives_signed_urls_that_expire(tmp_path: Path) -> None:
    probe = _probe(tmp_path, WIREFLOW_S3_BUCKET="wireflow-media",
                   WIREFLOW_S3_ENDPOINT_URL="https://s3.example.com",
                   WIREFLOW_S3_REGION="eu-west-1", WIREFLOW_S3_ACCESS_KEY_ID="AKIAEXAMPLE",
                   WIREFLOW_S3_SECRET_ACCESS_KEY="secret", WIREFLOW_S3_SIGNED_URLS="1",
                   WIREFLOW_S3_URL_EXPIRY_SECONDS="600")
    assert probe["url"].startswith("https://s3.example.com/wireflow-media/uploads/tok/a.png?")
    assert "X-Amz-Expires=600" in probe["url"] and "X-Amz-Signature=" in probe["url"]
    assert probe["name"] == "uploads/tok/a.png"
