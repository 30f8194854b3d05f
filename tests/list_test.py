"""`tool list`: every plugin in search order, kubectl-style warnings, and the --json shape."""
from __future__ import annotations

import json
import subprocess

from tests.conftest import TOOL, Env


def _layout(tenv: Env) -> tuple[str, str]:
    first = tenv.root / "first"
    second = tenv.root / "second"
    tenv.sh("tool-deploy", "true\n", directory=first)
    tenv.sh("tool-deploy", "true\n", directory=second)
    tenv.sh("tool-foo_bar", "true\n", directory=second)
    tenv.sh("tool-nox", "true\n", directory=first, mode=0o644)
    tenv.sh("tool-list", "true\n", directory=second)
    (first / "tool-dangling").symlink_to(tenv.root / "nowhere")
    (first / "tool-adir").mkdir()
    (first / "not-a-plugin").write_text("")
    return str(first), str(second)


def test_list_text_in_search_order_with_warnings(tenv: Env) -> None:
    first, second = _layout(tenv)
    proc = tenv.run("list", env={"TOOL_PLUGIN_PATH": first, "PATH": f"{second}:/usr/bin:/bin"})
    assert proc.returncode == 0
    lines = proc.stdout.decode().splitlines()
    paths = [line.split()[1] for line in lines if not line.startswith(" ")]
    assert paths == [
        f"{first}/tool-dangling",
        f"{first}/tool-deploy",
        f"{first}/tool-nox",
        f"{second}/tool-deploy",
        f"{second}/tool-foo_bar",
        f"{second}/tool-list",
    ]
    text = proc.stdout.decode()
    assert f"warning: shadowed by {first}/tool-deploy, which is found first" in text
    assert f"warning: not executable; run: chmod +x {first}/tool-nox" in text
    assert "warning: never run: 'list' is a builtin command of tool" in text
    assert "warning: symbolic link to" in text
    assert "tool-adir" not in text and "not-a-plugin" not in text
    assert proc.stderr.decode() == "tool: 6 plugin file(s), 4 warning(s)\n"


def test_list_json_shape(tenv: Env) -> None:
    first, second = _layout(tenv)
    env = {"TOOL_PLUGIN_PATH": f"{first}:rel", "PATH": f"{second}:/usr/bin:/bin"}
    doc = json.loads(tenv.run("list", "--json", env=env).stdout)
    assert doc == json.loads(tenv.run("--json", "list", env=env).stdout)
    assert doc["search_path"] == [first, second, "/usr/bin", "/bin"]
    assert doc["skipped"] == [
        {"source": "TOOL_PLUGIN_PATH", "entry": "rel", "reason": doc["skipped"][0]["reason"]}
    ]
    by_path = {p["path"]: p for p in doc["plugins"]}
    assert set(by_path[f"{first}/tool-deploy"]) == {"name", "path", "executable", "runs", "problems"}
    assert by_path[f"{first}/tool-deploy"]["runs"] is True
    assert by_path[f"{first}/tool-deploy"]["problems"] == []
    assert [q["code"] for q in by_path[f"{second}/tool-deploy"]["problems"]] == ["shadowed"]
    assert by_path[f"{second}/tool-deploy"]["runs"] is False
    assert by_path[f"{second}/tool-foo_bar"]["name"] == "foo-bar"
    assert [q["code"] for q in by_path[f"{first}/tool-nox"]["problems"]] == ["not_executable"]
    assert by_path[f"{first}/tool-nox"]["executable"] is False
    assert [q["code"] for q in by_path[f"{second}/tool-list"]["problems"]] == ["builtin_name"]
    assert [q["code"] for q in by_path[f"{first}/tool-dangling"]["problems"]] == ["broken_link"]


def test_list_with_nothing_found_exits_zero(tenv: Env) -> None:
    proc = tenv.run("list", env={"PATH": str(tenv.bin)})
    assert proc.returncode == 0
    assert proc.stdout == b""
    assert "no plugins found" in proc.stderr.decode()
    doc = json.loads(tenv.run("list", "--json", env={"PATH": str(tenv.bin)}).stdout)
    assert doc["plugins"] == []


def test_list_into_a_closed_pipe_is_quiet(tenv: Env) -> None:
    for i in range(3000):
        (tenv.bin / f"tool-p{i:04d}").write_text("")
        (tenv.bin / f"tool-p{i:04d}").chmod(0o755)
    proc = subprocess.run(
        ["/bin/sh", "-c", f'"{TOOL}" list | head -1'], capture_output=True, env=tenv.vars, timeout=60
    )
    assert proc.stdout.decode().split()[0] == "p0000"
    assert proc.stderr == b""
