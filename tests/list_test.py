"""`tool list`: every plugin in search order, kubectl-style warnings, and the --json shape."""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import DECLARATION, TOOL, Env, python_plugin


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
    proc = tenv.call("list", env={"TOOL_PLUGIN_PATH": first, "PATH": f"{second}:/usr/bin:/bin"})
    assert proc.returncode == 0
    lines = proc.stdout.decode().splitlines()
    assert lines[0].split() == ["NAME", "KIND", "VERSION", "SUMMARY", "PATH"]
    paths = [line.split()[-1] for line in lines[1:] if not line.startswith(" ")]
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
    assert proc.stderr.decode() == "tool: 6 plugin file(s), 4 warning(s); see 'tool doctor'\n"


def test_list_json_shape(tenv: Env) -> None:
    first, second = _layout(tenv)
    env = {"TOOL_PLUGIN_PATH": f"{first}:rel", "PATH": f"{second}:/usr/bin:/bin"}
    doc = json.loads(tenv.call("list", "--json", env=env).stdout)
    assert doc == json.loads(tenv.call("--json", "list", env=env).stdout)
    assert doc["search_path"] == [first, second, "/usr/bin", "/bin"]
    assert doc["skipped"] == [
        {"source": "TOOL_PLUGIN_PATH", "entry": "rel", "reason": doc["skipped"][0]["reason"]}
    ]
    by_path = {p["path"]: p for p in doc["plugins"]}
    assert set(by_path[f"{first}/tool-deploy"]) == {
        "name", "path", "executable", "runs", "problems", "kind", "protocol", "version", "summary", "summary_from", "sandbox",
    }
    assert by_path[f"{first}/tool-deploy"]["kind"] == "plain", "known from the file, without running it"
    assert by_path[f"{first}/tool-nox"]["kind"] is None, "cannot run: no kind"
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
    proc = tenv.call("list", env={"PATH": str(tenv.bin)})
    assert proc.returncode == 0
    assert proc.stdout == b""
    assert "no plugins found" in proc.stderr.decode()
    doc = json.loads(tenv.call("list", "--json", env={"PATH": str(tenv.bin)}).stdout)
    assert doc["plugins"] == []


@pytest.mark.slow
def test_list_into_a_closed_pipe_is_quiet(tenv: Env) -> None:
    for i in range(3000):
        (tenv.bin / f"tool-p{i:04d}").write_text("")
        (tenv.bin / f"tool-p{i:04d}").chmod(0o755)
    proc = subprocess.run(
        ["/bin/sh", "-c", f'"{TOOL}" list | head -1'], capture_output=True, env=tenv.vars, timeout=60
    )
    assert proc.stdout.decode().split()[0] == "NAME"
    assert proc.stderr == b""


HELLO = '{"type":"hello","protocol":1,"plugin":{"name":"p","version":"2.5.0","summary":"Does p things"}}'


def test_list_shows_kind_from_the_file_and_version_summary_from_the_cache_without_running(tenv: Env) -> None:
    marker = tenv.root / "ran"
    tenv.sh("tool-proto", f"{DECLARATION}touch {marker}\nprintf '%s\\n' '{HELLO}'\n")
    tenv.sh("tool-plain", f"touch {marker}\necho plain\n")
    rows = {line.split()[0]: line for line in tenv.run("list").stdout.decode().splitlines()[1:]}
    assert not marker.exists(), "list runs no plugin"
    assert rows["proto"].split()[:2] == ["proto", "protocol"], "declared in its file: known before it ever ran"
    assert rows["plain"].split()[:2] == ["plain", "plain"]
    assert tenv.run("proto").returncode == 0
    marker.unlink()
    rows = {line.split()[0]: line for line in tenv.run("list").stdout.decode().splitlines()[1:]}
    assert rows["proto"].split()[:5] == ["proto", "protocol", "v1", "2.5.0", "Does"], "learned when it ran"
    assert not marker.exists()
    doc = json.loads(tenv.run("list", "--json").stdout)
    by_name = {p["name"]: p for p in doc["plugins"]}
    assert (by_name["proto"]["kind"], by_name["proto"]["protocol"], by_name["proto"]["version"]) == ("protocol", 1, "2.5.0")
    assert by_name["proto"]["summary"] == "Does p things"
    assert (by_name["plain"]["kind"], by_name["plain"]["summary"]) == ("plain", None)


def test_list_refresh_asks_only_protocol_plugins(tenv: Env) -> None:
    log = tenv.root / "asked"
    python_plugin(
        tenv,
        "tool-desc",
        f"""
        import sys
        from protocol.plugin import Plugin
        open({str(log)!r}, "a").write("asked\\n")
        plugin = Plugin("desc", version="1.0", summary="first summary")
        @plugin.run
        def run(ctx, args):
            return None
        plugin.main()
        """,
    )
    tenv.sh("tool-plain", f"echo asked-plain >> {log}\necho plain\n")
    proc = tenv.run("list", "--refresh")
    assert "first summary" in proc.stdout.decode()
    assert log.read_text() == "asked\n", "only the plugin that declares the protocol was asked (describe)"
    doc = json.loads(tenv.run("list", "--json").stdout)
    assert {p["name"]: p["summary"] for p in doc["plugins"]}["desc"] == "first summary"
    assert log.read_text() == "asked\n", "and remembered: a plain list asks nobody"


def test_list_with_hundreds_of_plugins(tenv: Env) -> None:
    for d in range(5):
        for i in range(100):
            p = tenv.root / f"dir{d}" / f"tool-p{d}x{i:03d}"
            p.parent.mkdir(exist_ok=True)
            p.write_text("#!/bin/sh\n")
            p.chmod(0o755)
    path = ":".join(str(tenv.root / f"dir{d}") for d in range(5))
    doc = json.loads(tenv.call("list", "--json", env={"TOOL_PLUGIN_PATH": path}).stdout)
    names = [p["name"] for p in doc["plugins"]]
    assert len(names) == 500
    assert names[:2] == ["p0x000", "p0x001"] and names[-1] == "p4x099"
