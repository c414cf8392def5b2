"""Every module of the project imports on its own, first, right after Django is set up: a module
that works only when something else happened to be imported before it (an import cycle held
together by the order the rest of the code imports in) fails here. The run is a fresh Python
process: the test process has imported everything long ago. That process sets Django up once,
then forks a child per module (as many at once as there are cores), so each import starts
from the same clean state."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("accounts", "executions", "workflows", "wireflow_site")

SCRIPT = r'''
import json, os, sys, traceback
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wireflow_site.settings_test")
import django
django.setup()

modules = []
for package in sys.argv[1:]:
    for path in sorted(Path(package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = path.with_suffix("").parts
        modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))

def start(module):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            __import__(module)
            code = 0
        except BaseException:
            os.write(write, traceback.format_exc()[-2000:].encode())  # below a pipe's buffer
            code = 1
        os._exit(code)
    os.close(write)
    return pid, read

failures, running, waiting = {}, {}, list(reversed(modules))
while waiting or running:
    while waiting and len(running) < (os.cpu_count() or 1):
        module = waiting.pop()
        pid, read = start(module)
        running[pid] = (module, read)
    pid, status = os.wait()
    module, read = running.pop(pid)
    with os.fdopen(read, "rb") as pipe:
        error = pipe.read().decode(errors="replace")
    if status != 0:
        failures[module] = error or f"exit status {status}"
print(json.dumps({"modules": modules, "failures": failures}))
'''


def test_every_module_imports_first_and_alone() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, *PACKAGES], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # The walk found the project (a wrong folder would find nothing and pass).
    assert len(result["modules"]) > 150
    assert {"executions.executors.fal", "workflows.nodes.fal", "wireflow_site.api"} \
        <= set(result["modules"])
    assert result["failures"] == {}, "\n\n".join(
        f"{module}:\n{error}" for module, error in result["failures"].items())


LOADED = r'''
import json, os, sys
SDKS = ("openai", "anthropic")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wireflow_site.settings_test")
import django
django.setup()
# What the web server and a worker import when they start.
import wireflow_site.urls, wireflow_site.asgi, wireflow_site.celery, executions.tasks
import executions.executors, workflows.generate
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in SDKS)))
'''


def test_the_provider_sdks_are_imported_only_when_a_node_calls_them() -> None:
    """openai and anthropic weigh about 100 MB in every process that imports them: the web
    server, beat and a worker that runs no LLM or speech node never do."""
    done = subprocess.run([sys.executable, "-c", LOADED], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    # The same check sees a module once it is imported (it cannot pass by reading nothing).
    loaded = subprocess.run([sys.executable, "-c", LOADED.replace(
        "import executions.executors,", "import openai, executions.executors,")], cwd=ROOT,
        capture_output=True, text=True, timeout=300, check=False)
    assert "openai" in json.loads(loaded.stdout.strip().splitlines()[-1]), loaded.stderr[-3000:]
