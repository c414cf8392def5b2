"""A web worker is ready for its first request when it starts: the ASGI application imports the
URLconf (and so mounts the API) when it is built, not on the first request, which would
otherwise wait about a second behind it."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imported_after_start(*modules: str) -> dict[str, bool]:
    code = ("import sys, wireflow_site.asgi; "
            f"print(','.join(str(m in sys.modules) for m in {list(modules)!r}))")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "wireflow_site.settings_test"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return dict(zip(modules, (flag == "True" for flag in
                              done.stdout.strip().splitlines()[-1].split(",")), strict=True))


def test_building_the_asgi_application_loads_the_urls_and_the_api() -> None:
    loaded = _imported_after_start("wireflow_site.urls", "wireflow_site.api",
                                   "executions.views")
    assert loaded == {"wireflow_site.urls": True, "wireflow_site.api": True,
                      "executions.views": True}
