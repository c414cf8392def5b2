"""docs/api.md "Uploads" through the full API: POST /uploads recognises images, video and audio by
their content (anything else 415), measures them, stores them under an unguessable URL that
serves the bytes with the recognised type, refuses files over the limit (413, nothing stored),
needs workflows:write and a role that may modify, and a PNG uploaded this way runs through an
image model with the real engine."""

import io
import subprocess
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import imageio_ffmpeg
import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import FileResponse
from django.test import Client
from PIL import Image

from accounts.models import User
from accounts.scopes import WORKFLOWS_READ, WORKFLOWS_WRITE
from executions import ssrf
from executions.media import open_media_by_url
from executions.models import Upload
from executions.simulators.state import simulator_stats
from tests.builders import edge, node
from tests.conftest import ApiClient
from tests.engine.helpers import create_workflow, execute, wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _remove_stored_files() -> Iterator[None]:
    """The uploads of a test are deleted from the shared media folder when it ends."""
    before = set(Upload.objects.values_list("pk", flat=True))
    yield
    for upload in Upload.objects.exclude(pk__in=before):
        upload.file.delete(save=False)


def post_file(client: ApiClient, name: str, content: bytes, content_type: str = "",
              field: str = "file") -> Any:
    """POST /uploads as multipart, with the client's key (the declared type is the client's
    word only: the server ignores it)."""
    upload = SimpleUploadedFile(name, content, content_type or "application/octet-stream")
    return client.client.post("/api/v1/uploads", {field: upload},
                              headers=client._headers(None))


def error_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


# --- Samples, made here ------------------------------------------------------------------

def image_bytes(pil_format: str, size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=pil_format)
    return out.getvalue()


def wav_bytes(seconds: float = 0.5, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(b"\0\0" * int(rate * seconds))
    return out.getvalue()


FFMPEG_SOURCES = {
    "mp4": ["-f", "lavfi", "-i", "color=c=red:s=32x32:d=0.5", "-pix_fmt", "yuv420p"],
    "webm": ["-f", "lavfi", "-i", "color=c=red:s=32x32:d=0.5", "-c:v", "libvpx"],
    "mp3": ["-f", "lavfi", "-i", "sine=frequency=440:duration=0.5"],
    "ogg": ["-f", "lavfi", "-i", "sine=frequency=440:duration=0.5"],
}


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Half-second samples made by the ffmpeg binary of the imageio-ffmpeg wheel."""
    folder = tmp_path_factory.mktemp("media")
    made = {}
    for ext, source in FFMPEG_SOURCES.items():
        path = folder / f"sample.{ext}"
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error",
                        "-y", *source, str(path)], check=True, timeout=120)
        made[ext] = Path(path).read_bytes()
    return made


# --- Accepted ----------------------------------------------------------------------------

def test_a_png_is_accepted_with_its_size_and_an_absolute_unguessable_url(
        api: ApiClient, owner: User) -> None:
    content = image_bytes("PNG", (40, 30))
    response = post_file(api, "holiday photo.png", content, "image/png")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["contentType"] == "image/png" and body["size"] == len(content)
    assert (body["width"], body["height"]) == (40, 30)
    assert "durationSeconds" not in body
    assert body["url"].startswith(f"{django_settings.SITE_URL}/media/uploads/")
    assert body["url"].endswith("/holiday-photo.png")
    token = body["url"].split("/")[-2]
    assert len(token) >= 40  # 256 random bits
    upload = Upload.objects.get(pk=body["id"])
    assert upload.team == owner.current_team and upload.created_by == owner
    assert upload.original_name == "holiday photo.png"
    assert open_media_by_url(body["url"]) == content


@pytest.mark.parametrize(("pil_format", "content_type"), [
    ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("GIF", "image/gif"),
])
def test_other_images_are_recognised_by_their_content(api: ApiClient, pil_format: str,
                                                      content_type: str) -> None:
    # Named and declared wrongly on purpose: the content decides.
    response = post_file(api, "picture.bin", image_bytes(pil_format, (17, 9)), "text/plain")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["contentType"], body["width"], body["height"]) == (content_type, 17, 9)
    extension = {"image/jpeg": "jpg"}.get(content_type, pil_format.lower())
    assert body["url"].endswith(f"/picture.{extension}")


@pytest.mark.parametrize(("ext", "content_type", "timed"), [
    ("mp4", "video/mp4", True), ("webm", "video/webm", False),
    ("mp3", "audio/mpeg", True), ("ogg", "audio/ogg", True),
])
def test_video_and_audio_are_recognised_with_their_duration(
        api: ApiClient, encoded: dict[str, bytes], ext: str, content_type: str,
        timed: bool) -> None:
    response = post_file(api, "clip", encoded[ext])
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["contentType"] == content_type and body["url"].endswith(f"/clip.{ext}")
    assert "width" not in body
    if timed:
        assert body["durationSeconds"] == pytest.approx(0.5, abs=0.1)
    else:  # WebM's length is not read (no Matroska parser among the dependencies)
        assert "durationSeconds" not in body


def test_a_wav_file_is_audio_with_its_duration(api: ApiClient) -> None:
    response = post_file(api, "voice.wav", wav_bytes(seconds=1.5))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["contentType"] == "audio/wav"
    assert body["durationSeconds"] == pytest.approx(1.5, abs=0.01)


def test_the_url_serves_the_bytes_with_the_recognised_type_and_nosniff(api: ApiClient) -> None:
    content = image_bytes("PNG")
    url = post_file(api, "a.png", content).json()["url"]
    served = Client().get(url.removeprefix(django_settings.SITE_URL))  # no login needed
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    streamed = cast(FileResponse, served).streaming_content  # django.views.static.serve's
    assert b"".join(cast(Iterator[bytes], streamed)) == content  # synchronous under WSGI


def test_a_teammate_uploads_into_the_team_and_a_stranger_into_their_own(
        api_for: Callable[..., ApiClient], teammate: User, stranger: User, owner: User) -> None:
    mine = post_file(api_for(teammate), "a.png", image_bytes("PNG")).json()
    theirs = post_file(api_for(stranger), "a.png", image_bytes("PNG")).json()
    assert Upload.objects.get(pk=mine["id"]).team == owner.current_team
    assert Upload.objects.get(pk=theirs["id"]).team == stranger.current_team
    assert not Upload.objects.filter(team=owner.current_team, pk=theirs["id"]).exists()
    assert mine["url"] != theirs["url"]


def test_a_browser_session_uploads_with_its_csrf_token(owner: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    client.get("/workflows/")  # sets the CSRF cookie
    data = {"file": SimpleUploadedFile("a.png", image_bytes("PNG"), "image/png")}
    refused = client.post("/api/v1/uploads", data)
    assert error_of(refused) == (403, "csrf_failed")
    data = {"file": SimpleUploadedFile("a.png", image_bytes("PNG"), "image/png")}
    accepted = client.post("/api/v1/uploads", data,
                           headers={"X-CSRFToken": client.cookies["csrftoken"].value})
    assert accepted.status_code == 201, accepted.content


# --- Refused -----------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "content"), [
    ("notes.png", b"just some text, not an image\n" * 10),
    ("page.html", b"<!doctype html><html><script>alert(1)</script></html>"),
    ("page.png", b"<html><body><img src=x onerror=alert(1)></body></html>"),
    ("icon.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
    ("doc.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"),
    ("empty.png", b""),
    ("truncated.png", image_bytes("PNG")[:40]),  # PNG magic, then nothing readable
    ("fake.mp3", b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00" * 64),
])
def test_anything_else_is_415_and_nothing_is_stored(api: ApiClient, name: str,
                                                    content: bytes) -> None:
    response = post_file(api, name, content, "image/png")
    assert error_of(response) == (415, "unsupported_media_type")
    message = response.json()["error"]
    assert "PNG, JPEG" in message or "not a readable" in message
    assert not Upload.objects.exists()


def _stored_folders() -> set[str]:
    return set(default_storage.listdir("uploads")[0]) if default_storage.exists("uploads") \
        else set()


def test_a_file_over_the_limit_is_413_while_read_and_nothing_is_stored(
        api: ApiClient, settings: Any) -> None:
    # Declared small enough to pass the Content-Length check: stopped while it is read.
    settings.UPLOAD_MAX_BYTES = 1000
    folders = _stored_folders()
    response = post_file(api, "big.png", image_bytes("PNG", (400, 400)))
    assert error_of(response) == (413, "payload_too_large")
    assert "limit" in response.json()["error"]
    assert not Upload.objects.exists() and _stored_folders() == folders


def test_the_limit_is_enforced_while_the_body_is_parsed_before_the_endpoint_runs(
        api_for: Callable[..., ApiClient], viewer: User, settings: Any) -> None:
    # The endpoint would answer a viewer 403: the 413 comes from the upload handler, which
    # stops the parse (and the spooling to disk) as soon as the file passes the limit.
    settings.UPLOAD_MAX_BYTES = 1000
    response = post_file(api_for(viewer), "big.png", image_bytes("PNG", (400, 400)))
    assert error_of(response) == (413, "payload_too_large")


def test_a_declared_length_over_the_limit_is_413_before_reading(
        api: ApiClient, settings: Any) -> None:
    settings.UPLOAD_MAX_BYTES = 10
    response = post_file(api, "big.wav", wav_bytes(seconds=10))  # 160 KB, over 10 B + framing
    assert error_of(response) == (413, "payload_too_large")
    assert not Upload.objects.exists()


def test_a_session_upload_over_the_limit_is_413_too(owner: User, settings: Any) -> None:
    # A session's CSRF check reads the form before the endpoint does: the limit holds there.
    settings.UPLOAD_MAX_BYTES = 1000
    client = Client()
    client.force_login(owner)
    response = client.post("/api/v1/uploads",
                           {"file": SimpleUploadedFile("a.png", image_bytes("PNG", (400, 400)))})
    assert error_of(response) == (413, "payload_too_large")
    assert not Upload.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/workflows", "/api/v1/uploads"])
def test_the_usual_api_body_limit_holds_for_anything_but_a_multipart_upload(
        api: ApiClient, path: str) -> None:
    big = b"x" * (django_settings.API_MAX_BODY_BYTES + 1)
    response = api.client.post(path, big, content_type="application/json",
                               headers=api._headers(None))
    assert error_of(response) == (413, "payload_too_large")


def test_a_missing_file_field_is_400(api: ApiClient) -> None:
    response = post_file(api, "a.png", image_bytes("PNG"), field="picture")
    assert error_of(response) == (400, "invalid_request")
    assert response.json()["fields"] == ["file"] and "`file`" in response.json()["error"]
    empty = api.client.post("/api/v1/uploads", {}, headers=api._headers(None))
    assert error_of(empty) == (400, "invalid_request")
    as_json = api.post("/uploads", {"file": "aGVsbG8="})
    assert error_of(as_json) == (400, "invalid_request")


def test_a_viewer_may_not_upload(api_for: Callable[..., ApiClient], viewer: User) -> None:
    response = post_file(api_for(viewer), "a.png", image_bytes("PNG"))
    assert response.status_code == 403
    assert response.json() == {"error": "Your role in this team cannot do this",
                               "code": "forbidden_role"}
    assert not Upload.objects.exists()


def test_a_key_without_the_write_scope_may_not_upload(
        api_for: Callable[..., ApiClient], owner: User) -> None:
    response = post_file(api_for(owner, [WORKFLOWS_READ]), "a.png", image_bytes("PNG"))
    assert error_of(response) == (403, "forbidden")
    assert post_file(api_for(owner, [WORKFLOWS_WRITE]), "a.png",
                     image_bytes("PNG")).status_code == 201


def test_without_a_key_it_is_401() -> None:
    response = Client().post("/api/v1/uploads",
                             {"file": SimpleUploadedFile("a.png", image_bytes("PNG"))})
    assert error_of(response) == (401, "missing_authorization")


def test_an_upload_counts_against_the_rate_limit(api: ApiClient, settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = True
    first = post_file(api, "a.png", image_bytes("PNG"))
    second = post_file(api, "a.png", image_bytes("PNG"))
    assert first.status_code == second.status_code == 201
    assert int(second["X-RateLimit-Remaining"]) == int(first["X-RateLimit-Remaining"]) - 1


# --- End to end: a PNG runs through an image model ----------------------------------------

@pytest.mark.django_db(transaction=True)
def test_an_uploaded_png_runs_through_the_upscaler(engine: str, api: ApiClient) -> None:
    upload = post_file(api, "small.png", image_bytes("PNG", (40, 30)))
    assert upload.status_code == 201, upload.content
    url = upload.json()["url"]
    assert url.startswith(f"{engine}/media/uploads/")
    # The site's own media passes the SSRF guard (a loopback address, but SITE_URL's origin).
    fetched = ssrf.fetch("GET", url)
    assert fetched.status_code == 200 and fetched.content.startswith(b"\x89PNG")

    nodes = [node("img", "input:image", "Photo", url=url),
             node("up", "upscale:crystal_upscaler", "Upscale", scale_factor=2)]
    workflow_id = create_workflow(api, nodes, [edge("img", "image", "up", "image_url")])
    poll = wait_for(api, execute(api, workflow_id))
    assert poll["status"] == "COMPLETED", poll
    assert simulator_stats()["byModel"] == {"clarityai/crystal-upscaler": 1}
    output = {run["nodeId"]: run["output"] for run in poll["nodeResults"]["nodeRuns"]}["up"]
    result = open_media_by_url(output["images"][0]["url"])
    assert result is not None, output
    upscaled = Image.open(io.BytesIO(result))
    # Twice the upload's size, in the upload's colour: the model read the uploaded file.
    assert upscaled.size == (80, 60)
    pixel = upscaled.convert("RGB").getpixel((40, 30))
    assert isinstance(pixel, tuple)
    red, green, blue = pixel
    assert red > 150 and green < 80 and blue < 80


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_without_a_length_is_411_and_stores_nothing(live_site: str,
                                                                   api: ApiClient) -> None:
    boundary = "wireflowboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n").encode() \
        + image_bytes("PNG") + f"\r\n--{boundary}--\r\n".encode()

    def chunks() -> Iterator[bytes]:  # httpx sends an iterator chunked, with no length
        yield from (body[i:i + 100] for i in range(0, len(body), 100))

    response = httpx.post(f"{live_site}/api/v1/uploads", content=chunks(), timeout=30,
                          headers={**api._headers(None),
                                   "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert (response.status_code, response.json()["code"]) == (411, "length_required")
    assert not Upload.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_uploaded_audio_and_video_feed_the_nodes_that_take_them(
        engine: str, api: ApiClient, encoded: dict[str, bytes]) -> None:
    face = post_file(api, "face.png", image_bytes("PNG", (64, 64))).json()["url"]
    voice = post_file(api, "voice.wav", wav_bytes(seconds=1.0)).json()["url"]
    clip = post_file(api, "clip.mp4", encoded["mp4"]).json()["url"]
    nodes = [node("face", "input:image", "Face", url=face),
             node("voice", "input:audio", "Voice", url=voice),
             node("clip", "input:video", "Clip", url=clip),
             node("talk", "talking:veed_fabric", "Talk", resolution="480p"),
             node("out", "output:result", "Result")]
    edges = [edge("face", "image", "talk", "image_url"),
             edge("voice", "audio", "talk", "audio_url"),
             edge("clip", "video", "out", "value")]
    poll = wait_for(api, execute(api, create_workflow(api, nodes, edges)))
    assert poll["status"] == "COMPLETED", poll
    outputs = {run["nodeId"]: run["output"] for run in poll["nodeResults"]["nodeRuns"]}
    assert outputs["clip"] == {"video": clip}  # the input node hands the URL on as it is
    talking = open_media_by_url(outputs["talk"]["video"]["url"])
    assert talking is not None and talking[4:8] == b"ftyp"
    assert simulator_stats()["byModel"] == {"veed/fabric-1.0": 1}
    # Priced on the uploaded speech's measured length (15 credits a second, 1 s).
    assert float(poll["creditsUsed"]) == pytest.approx(15)
