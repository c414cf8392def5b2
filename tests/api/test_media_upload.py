"""docs/api.md "The hosted API's newer endpoints", media: POST /media/upload takes a multipart file
(the same code path as POST /uploads) or a JSON {url} the server fetches through the SSRF guard
with the same limits (size while streaming, content recognised by its bytes), answering
{data: {id, url, contentType, size}}; GET /media lists the team's uploads, newest first. A
private address is refused before any request, and a URL that cannot be fetched is a clear 4xx,
never a 500."""

import contextlib
import io
import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import User
from accounts.scopes import WORKFLOWS_READ
from executions.media import open_media_by_url
from executions.models import Upload
from tests.api.test_uploads_api import (  # noqa: F401 (an autouse fixture)
    _remove_stored_files,
    image_bytes,
    wav_bytes,
)
from tests.conftest import ApiClient
from tests.harness import LocalHTTPServer

pytestmark = pytest.mark.django_db

PNG = image_bytes("PNG", (12, 8))
FORBIDDEN_ROLE = {"error": "Your role in this team cannot do this", "code": "forbidden_role"}
MEDIA_KEYS = {"id", "url", "contentType", "size"}


class MediaServer:
    """Files on 127.0.0.1: `files` maps a path to (status, body, declare the length?); every
    request's path is remembered."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[int, bytes, bool]] = {}
        self.paths: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                server.paths.append(self.path)
                status, content, declared = server.files.get(self.path, (404, b"missing", True))
                self.send_response(status)
                self.send_header("Content-Type", "image/png")  # whatever: bytes decide
                if declared:
                    self.send_header("Content-Length", str(len(content)))
                else:  # streamed: only counting while reading can stop it
                    self.send_header("Connection", "close")
                self.end_headers()
                with contextlib.suppress(OSError):  # a client that stopped reading: fine
                    self.wfile.write(content)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = LocalHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def files(settings: Any) -> Iterator[MediaServer]:
    """A file server the SSRF guard is told to trust (as tests/engine/conftest.py does)."""
    settings.SSRF_ALLOW_HOSTS = ["127.0.0.1"]
    server = MediaServer()
    yield server
    server.close()


def post_file(client: ApiClient, name: str, content: bytes) -> Any:
    upload = SimpleUploadedFile(name, content, "application/octet-stream")
    return client.client.post("/api/v1/media/upload", {"file": upload},
                              headers=client._headers(None))


def post_url(client: ApiClient, url: Any) -> Any:
    return client.post("/media/upload", {"url": url})


def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once it is closed


def assert_refused(response: Any, status: int, code: str) -> None:
    """An error answer with that status and code, and nothing stored."""
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert not Upload.objects.exists()


# --- A file -----------------------------------------------------------------------------------

def test_a_file_is_stored_like_an_upload_and_answered_under_data(api: ApiClient) -> None:
    response = post_file(api, "fox.png", PNG)

    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert set(response.json()) == {"data"} and set(data) == MEDIA_KEYS
    assert (data["contentType"], data["size"]) == ("image/png", len(PNG))
    upload = Upload.objects.get(pk=data["id"])
    assert (upload.width, upload.height) == (12, 8)  # measured like POST /uploads does
    assert open_media_by_url(data["url"]) == PNG


@pytest.mark.parametrize(("name", "content"), [("notes.txt", b"plain text, not media"),
                                                ("fake.png", b"\x89PNG\r\n\x1a\n broken")])
def test_a_file_that_is_not_media_is_415_and_nothing_is_stored(api: ApiClient, name: str,
                                                                content: bytes) -> None:
    response = post_file(api, name, content)
    assert_refused(response, 415, "unsupported_media_type")


def test_a_file_over_the_limit_is_413(api: ApiClient, settings: Any) -> None:
    settings.UPLOAD_MAX_BYTES = len(PNG) - 1
    response = post_file(api, "fox.png", PNG)
    assert_refused(response, 413, "payload_too_large")


@pytest.mark.parametrize("path", ["/api/v1/uploads", "/api/v1/media/upload"])
def test_a_file_bigger_than_a_json_body_may_be_is_accepted_at_both_paths(
        api: ApiClient, settings: Any, path: str) -> None:
    # Noise does not compress: a PNG well over the JSON body limit, well under the upload one.
    noise = Image.frombytes("RGB", (360, 360), os.urandom(360 * 360 * 3))
    out = io.BytesIO()
    noise.save(out, format="PNG")
    assert settings.API_MAX_BODY_BYTES < len(out.getvalue()) < settings.UPLOAD_MAX_BYTES
    upload = SimpleUploadedFile("noise.png", out.getvalue(), "image/png")
    response = api.client.post(path, {"file": upload}, headers=api._headers(None))
    assert response.status_code == 201, response.content
    assert Upload.objects.get().size == len(out.getvalue())


def test_a_form_without_a_file_is_400(api: ApiClient) -> None:
    response = api.client.post("/api/v1/media/upload", {"other": "x"},
                               headers=api._headers(None))
    assert response.status_code == 400, response.content
    assert response.json()["fields"] == ["file"]


# --- A URL --------------------------------------------------------------------------------

def test_a_url_is_fetched_recognised_and_stored(api: ApiClient, files: MediaServer) -> None:
    files.files["/pictures/fox.png"] = (200, PNG, True)

    response = post_url(api, files.url("/pictures/fox.png"))

    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert set(data) == MEDIA_KEYS
    assert (data["contentType"], data["size"]) == ("image/png", len(PNG))
    assert open_media_by_url(data["url"]) == PNG
    assert data["url"] != files.url("/pictures/fox.png")
    assert Upload.objects.get(pk=data["id"]).original_name == "fox.png"


def test_audio_by_url_is_recognised_by_its_bytes(api: ApiClient, files: MediaServer) -> None:
    files.files["/download?id=3"] = (200, wav_bytes(), True)  # no extension to go by
    response = post_url(api, files.url("/download?id=3"))
    assert response.status_code == 201, response.content
    assert response.json()["data"]["contentType"] == "audio/wav"


def test_one_of_our_own_media_urls_is_read_from_storage_and_stored_again(
        api: ApiClient, settings: Any) -> None:
    settings.SSRF_ALLOW_HOSTS = []  # no HTTP at all: the bytes come from storage
    first = post_file(api, "fox.png", PNG).json()["data"]

    again = post_url(api, first["url"])

    assert again.status_code == 201, again.content
    assert again.json()["data"]["url"] != first["url"]
    assert open_media_by_url(again.json()["data"]["url"]) == PNG


def test_a_url_that_is_not_media_is_415(api: ApiClient, files: MediaServer) -> None:
    files.files["/page"] = (200, b"<html><body>Hello</body></html>", True)
    response = post_url(api, files.url("/page"))
    assert_refused(response, 415, "unsupported_media_type")


def test_a_declared_length_over_the_limit_is_413(api: ApiClient, files: MediaServer,
                                                 settings: Any) -> None:
    settings.UPLOAD_MAX_BYTES = 1000
    files.files["/big.png"] = (200, PNG + b"\0" * 5000, True)
    response = post_url(api, files.url("/big.png"))
    assert_refused(response, 413, "payload_too_large")


def test_a_streamed_body_over_the_limit_is_413_while_it_is_read(
        api: ApiClient, files: MediaServer, settings: Any) -> None:
    settings.UPLOAD_MAX_BYTES = 1000
    files.files["/endless.png"] = (200, PNG + b"\0" * 50_000, False)
    response = post_url(api, files.url("/endless.png"))
    assert_refused(response, 413, "payload_too_large")


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/fox.png", "http://localhost:{port}/x",
                                 "http://169.254.169.254/latest/meta-data/",
                                 "http://10.0.0.7/fox.png", "http://[::1]:{port}/fox.png"])
def test_a_private_address_is_refused_before_any_request(api: ApiClient, files: MediaServer,
                                                         settings: Any, url: str) -> None:
    settings.SSRF_ALLOW_HOSTS = []
    files.files["/fox.png"] = (200, PNG, True)
    port = files.server.server_address[1]

    response = post_url(api, url.format(port=port))

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_url"
    assert response.json()["error"] == "URL refused: its host is not a public address"
    assert files.paths == []
    assert not Upload.objects.exists()


@pytest.mark.parametrize("url", ["ftp://example.com/fox.png", "file:///etc/passwd",
                                 "http://user:pass@example.com/fox.png", "not a url", ""])
def test_a_url_of_the_wrong_kind_is_400_invalid_url(api: ApiClient, url: str) -> None:
    response = post_url(api, url)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_url"


def test_a_host_nothing_answers_on_is_422(api: ApiClient, files: MediaServer) -> None:
    response = post_url(api, f"http://127.0.0.1:{closed_port()}/fox.png")
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "url_fetch_failed"
    assert "127.0.0.1" in response.json()["error"]  # the name as written, nothing resolved


def test_a_url_answering_an_error_status_is_422(api: ApiClient, files: MediaServer) -> None:
    response = post_url(api, files.url("/gone.png"))
    assert response.status_code == 422, response.content
    assert response.json() == {"error": "The URL could not be fetched: it answered HTTP 404",
                               "code": "url_fetch_failed"}


@pytest.mark.parametrize("payload", [{}, {"url": 5}, {"url": None}, {"url": "x" * 2049},
                                     {"url": "http://a\x00b"}, [1], "http://x"])
def test_a_body_without_a_url_string_is_400(api: ApiClient, payload: Any) -> None:
    response = api.post("/media/upload", payload)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_request"
    assert "url" in response.json()["fields"] or response.json()["fields"] == ["body"]


@pytest.mark.parametrize("raw", ["", "{not json"])
def test_no_body_or_malformed_json_is_400(api: ApiClient, raw: str) -> None:
    response = api.post("/media/upload", raw=raw)
    assert response.status_code == 400, response.content
    assert response.json()["code"] in {"invalid_request", "invalid_json"}


# --- Who may ------------------------------------------------------------------------------

def test_a_viewer_may_not_upload_but_may_list(api: ApiClient, api_for: Callable[..., ApiClient],
                                              viewer: User, files: MediaServer) -> None:
    files.files["/fox.png"] = (200, PNG, True)
    client = api_for(viewer)
    assert post_file(client, "fox.png", PNG).json() == FORBIDDEN_ROLE
    by_url = post_url(client, files.url("/fox.png"))
    assert (by_url.status_code, by_url.json()) == (403, FORBIDDEN_ROLE)
    assert files.paths == []  # refused before anything was fetched
    assert client.get("/media").json() == {"data": []}


def test_scopes_write_to_upload_and_read_to_list(api_for: Callable[..., ApiClient],
                                                 owner: User) -> None:
    reader = api_for(owner, [WORKFLOWS_READ])
    response = post_file(reader, "fox.png", PNG)
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert reader.get("/media").status_code == 200
    assert api_for(owner, ["executions:read"]).get("/media").status_code == 403


def test_without_a_key_it_is_401() -> None:
    assert ApiClient(None).get("/media").status_code == 401
    assert ApiClient(None).post("/media/upload", {"url": "http://x"}).status_code == 401


# --- GET /media ---------------------------------------------------------------------------

def test_the_list_is_the_teams_media_newest_first(api: ApiClient,
                                                  api_for: Callable[..., ApiClient],
                                                  teammate: User, stranger: User) -> None:
    first = post_file(api, "one.png", PNG).json()["data"]
    second = post_file(api_for(teammate), "two.wav", wav_bytes()).json()["data"]
    theirs = post_file(api_for(stranger), "theirs.png", PNG).json()["data"]

    listed = api.get("/media").json()

    assert set(listed) == {"data"}
    assert [item["id"] for item in listed["data"]] == [second["id"], first["id"]]
    assert {k: v for k, v in listed["data"][0].items() if k != "createdAt"} == second
    assert listed["data"][0]["createdAt"].endswith("Z")
    assert [i["id"] for i in api_for(stranger).get("/media").json()["data"]] == [theirs["id"]]


def test_uploads_through_post_uploads_are_listed_too(api: ApiClient) -> None:
    upload = SimpleUploadedFile("fox.png", PNG, "image/png")
    created = api.client.post("/api/v1/uploads", {"file": upload}, headers=api._headers(None))
    assert created.status_code == 201
    assert [i["id"] for i in api.get("/media").json()["data"]] == [created.json()["id"]]


def test_the_list_is_bounded_by_limit(api: ApiClient) -> None:
    ids = [post_file(api, f"{n}.png", PNG).json()["data"]["id"] for n in range(3)]
    assert [i["id"] for i in api.get("/media?limit=2").json()["data"]] == ids[::-1][:2]
    for bad in ("0", "201", "many"):
        response = api.get(f"/media?limit={bad}")
        assert response.status_code == 400, response.content
        assert response.json()["fields"] == ["limit"]
