"""`tool plugin install` per source kind, against doing the same by hand side by side (cp, ln,
git clone, a download and untar, venv + pip): what tool's staging, checks, hashes and
manifest cost on top. Called by bench/run.py; local only (a git repository made here,
archives served on 127.0.0.1, wheels written here)."""
from __future__ import annotations

import hashlib
import http.server
import io
import shutil
import statistics
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _time(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def run(tool: str, python: str, work: Path, env: dict[str, str], rounds: int) -> list[tuple[str, float, float]]:
    """(kind, tool's median seconds, by hand's median seconds) for each source kind."""
    from tests.wheels import sdk_wheel, wheel

    src = work / "install-src"
    src.mkdir()
    plugin = src / "tool-hi"
    plugin.write_text("#!/bin/sh\necho hi\n")
    plugin.chmod(0o755)
    repo = work / "tool-hi-repo"
    repo.mkdir()
    shutil.copy(plugin, repo / "tool-hi")
    git_env = {**env, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
    for argv in (["init", "-q"], ["add", "."], ["commit", "-qm", "one"]):
        subprocess.run(["git", "-C", str(repo), *argv], env=git_env, check=True)
    served = work / "served"
    served.mkdir()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(plugin, "tool-hi-1.0/tool-hi")
    (served / "hi.tar.gz").write_bytes(buf.getvalue())
    sha = hashlib.sha256(buf.getvalue()).hexdigest()
    handler = type("H", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *a: None})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: handler(*a, directory=str(served)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/hi.tar.gz"
    wheels = work / "wheels"
    sdk_wheel(wheels)
    whl = wheel(wheels, "tool-hipy", "1.0", {"hipy.py": "def main():\n    print('hi')\n"}, scripts={"tool-hipy": "hipy:main"})
    pip_env = {**env, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}
    untar = (f"import urllib.request, tarfile, io, sys; data = urllib.request.urlopen({url!r}).read(); "
             "tarfile.open(fileobj=io.BytesIO(data)).extractall(sys.argv[1], filter='data')")
    kinds = {
        "file": ([tool, "plugin", "install", str(plugin)], lambda d: ["cp", str(plugin), str(d)]),
        "link": ([tool, "plugin", "install", str(src), "--name", "hilink"], lambda d: ["ln", "-s", str(src), str(d)]),
        "git": ([tool, "plugin", "install", f"file://{repo}"], lambda d: ["git", "clone", "-q", f"file://{repo}", str(d)]),
        "archive": ([tool, "plugin", "install", url, "--sha256", sha, "--allow-http"], lambda d: [python, "-c", untar, str(d)]),
        "python": ([tool, "plugin", "install", str(whl)], lambda d: ["sh", "-c", (
            f"{python} -m venv {d} && {d}/bin/python -m pip install -q --disable-pip-version-check {whl}")]),
    }
    results = []
    try:
        for kind, (argv, by_hand) in kinds.items():
            n = max(1, rounds // 4) if kind == "python" else rounds
            ours, theirs = [], []
            for i in range(n):
                data = work / f"data-{kind}-{i}"
                ours.append(_time(argv, {**pip_env, "XDG_DATA_HOME": str(data)}))
                theirs.append(_time(by_hand(work / f"hand-{kind}-{i}"), pip_env))
            results.append((kind, statistics.median(ours), statistics.median(theirs)))
    finally:
        httpd.shutdown()
        httpd.server_close()
    return results
