"""Static files: which ones may be cached for ever.

The editor's bundle is built by Vite with a content hash in every file name
(static/editor/assets/main-CA4ncIXe.js), and the page finds the current names in Vite's manifest,
so a new build is new URLs: whitenoise may tell browsers and proxies to keep those for a year.
Everything else keeps whitenoise's short default max-age.
"""

import re

_EDITOR_ASSET = re.compile(r"^/static/editor/assets/[\w.-]{1,200}-[\w-]{8}\.(?:js|css)(?:\.map)?$")


def immutable_file_test(path: str, url: str) -> bool:
    """WHITENOISE_IMMUTABLE_FILE_TEST: the editor's hashed build files."""
    return _EDITOR_ASSET.fullmatch(url) is not None
