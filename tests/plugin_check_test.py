"""`tool plugin check`: it agrees with docs/protocol.md (optional requests may be refused, cancel
is checked against a run that lasts), and `tool list` and `tool doctor` agree on the fix."""
from __future__ import annotations

import json

import pytest

from tests.conftest import DECLARATION, Env

HELLO = '{"type":"hello","protocol":1}'


def check(tenv: Env, name: str, *run_args: str) -> dict[str, dict[str, object]]:
    """Run the checker in-process with small bounds (a run still going after 1.5 s is stopped):
    name -> its result."""
    from dispatch.builtins.check import Bounds, Checker
    from dispatch.cli import Dispatcher

    bounds = Bounds(answer=2.0, run=1.5, busy=0.5, cancel=1.0, eof=1.0, exit=0.5)
    results = Checker(Dispatcher("tool").program, str(tenv.bin / name), tenv.vars, list(run_args) or ["--help"], bounds).check()
    return {str(r["name"]): r for r in results}


def protocol_sh(tenv: Env, name: str, on_run: str, *, hello: str = HELLO, other: str = "") -> None:
    """An sh plugin: the hello, then `on_run` for a run request, `other` (default: unsupported_request, 76) otherwise."""
    other = other or """echo '{"type":"error","code":"unsupported_request","message":"no"}'; exit 76"""
    tenv.sh(name, f"""{DECLARATION}case ",$TOOL_PROTOCOL," in *,1,*) ;; *) echo '{{"type":"hello","protocol":null,"supported":[1]}}'; exit 76 ;; esac
echo '{hello}'
IFS= read -r request || exit 0
case $request in '{{"type":"run"'*) ;; *) {other} ;; esac
{on_run}
""")


@pytest.mark.slow
def test_a_plugin_that_ignores_cancel_fails_with_the_fix(tenv: Env) -> None:
    protocol_sh(tenv, "tool-deaf", "sleep 30")
    results = check(tenv, "tool-deaf", "work")
    assert results["cancel"]["status"] == "fail"
    assert "still running 1 s after 'cancel'" in str(results["cancel"]["detail"])
    assert "keep reading stdin while you work" in str(results["cancel"]["detail"])
    assert results["run"]["status"] == "ok" and "still running" in str(results["run"]["detail"])


@pytest.mark.slow
def test_a_plugin_that_stops_on_cancel_passes(tenv: Env) -> None:
    protocol_sh(tenv, "tool-hears", """while IFS= read -r line; do case $line in *'"cancel"'*) exit 130 ;; esac; done""")
    results = check(tenv, "tool-hears", "work")
    assert results["cancel"] == {"name": "cancel", "status": "ok", "ok": True, "detail": "stopped after 'cancel' with exit 130"}


def test_cancel_is_untested_when_the_run_ends_at_once(tenv: Env) -> None:
    protocol_sh(tenv, "tool-quick", """echo '{"type":"result","data":1}'""")
    results = check(tenv, "tool-quick")
    assert results["cancel"]["status"] == "untested" and results["cancel"]["ok"] is True
    assert "plugin check NAME -- ARGS" in str(results["cancel"]["detail"])
    assert all(r["status"] != "fail" for r in results.values()), results


@pytest.mark.parametrize("status", [0, 1, 76])
def test_optional_requests_may_be_refused_with_any_status(tenv: Env, status: int) -> None:
    protocol_sh(tenv, "tool-runonly", "", other=f"""echo '{{"type":"error","code":"unsupported_request","message":"no"}}'; exit {status}""")
    results = check(tenv, "tool-runonly")
    for name in ("describe", "complete"):
        assert results[name]["status"] == "ok", results[name]
        assert ("exit 76 are what the docs ask" in str(results[name]["detail"])) == (status != 76)


def test_a_plugin_that_takes_describe_for_a_run_fails_with_the_fix(tenv: Env) -> None:
    protocol_sh(tenv, "tool-eager", "", other="""echo '{"type":"output","text":"hi"}'; exit 0""")
    detail = str(check(tenv, "tool-eager")["describe"]["detail"])
    assert "it sent output: did it take 'describe' for a run?" in detail
    assert '"code":"unsupported_request"' in detail


def test_features_a_host_lacks_fail_the_check(tenv: Env) -> None:
    protocol_sh(tenv, "tool-future", "", hello='{"type":"hello","protocol":1,"features":["records","warp"],"requires":["warp"]}')
    result = check(tenv, "tool-future")["features"]
    assert result["status"] == "fail" and "it requires warp, which tool" in str(result["detail"])
    protocol_sh(tenv, "tool-uses", "", hello='{"type":"hello","protocol":1,"features":["records","warp"]}')
    result = check(tenv, "tool-uses")["features"]
    assert result["status"] == "ok" and "does not know warp" in str(result["detail"])


def test_the_json_report_has_a_status_per_check(tenv: Env) -> None:
    protocol_sh(tenv, "tool-quick", """echo '{"type":"result","data":1}'""")
    proc = tenv.run("plugin", "check", "quick", "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0 and doc["ok"] is True
    assert {c["status"] for c in doc["checks"]} == {"ok", "untested"}


def test_list_and_doctor_name_the_same_side_to_upgrade(tenv: Env) -> None:
    tenv.sh("tool-newer", DECLARATION + """echo '{"type":"hello","protocol":null,"supported":[2]}'; exit 76""")
    run = tenv.run("newer")
    assert run.returncode == 76 and b"upgrade tool to a version that speaks protocol 2" in run.stderr
    listed = tenv.run("list").stdout.decode()
    assert "warning: its last run failed: protocol error: no protocol version in common" in listed
    assert "upgrade tool to a version that speaks protocol 2" in listed
    doctor = tenv.run("doctor").stdout.decode() + tenv.run("doctor").stderr.decode()
    assert "fix: upgrade tool to a version that speaks protocol 2" in doctor
    assert "upgrade the plugin" not in doctor
    refreshed = tenv.run("list", "--refresh").stdout.decode()
    assert "upgrade tool to a version that speaks protocol 2" in refreshed


def test_a_plain_program_is_never_run_by_the_check(tenv: Env) -> None:
    tenv.sh("tool-wipe", f'echo "$*" >> "{tenv.root}/runs"\n')
    proc = tenv.run("plugin", "check", "wipe", "--json")
    report = json.loads(proc.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert proc.returncode == 0 and list(checks) == ["kind", "executable", "interpreter", "summary", "completion"], report
    assert "it was not run" in checks["kind"]["detail"] and checks["interpreter"]["detail"] == "#!/bin/sh"
    assert checks["summary"]["status"] == checks["completion"]["status"] == "untested"
    assert not (tenv.root / "runs").exists()


def test_a_plain_plugin_is_checked_for_what_it_can_offer(tenv: Env) -> None:
    tenv.sh("tool-ship", "# tool-summary: Ship it\necho shipped\n")
    tenv.sh("tool_complete-ship", "echo staging\necho prod\n")
    tenv.plugin("tool-old", "#!/nonexistent/python2\nprint 'hi'\n")
    tenv.sh("tool_complete-old", "sleep 5\n")
    proc = tenv.run("plugin", "check", "ship")
    assert proc.returncode == 0, proc
    out = proc.stdout.decode()
    assert "  ok    summary: 'Ship it'\n" in out and "answered 2 candidate(s)" in out and "5 of 5 checks passed" in out
    proc = tenv.run("plugin", "check", "old", "--json")
    checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    assert proc.returncode == 1 and checks["interpreter"]["status"] == "fail" and "/nonexistent/python2" in checks["interpreter"]["detail"]
    assert checks["completion"]["status"] == "fail" and "did not answer within 1 s" in checks["completion"]["detail"]
    (tenv.bin / "tool-old").chmod(0o644)
    proc = tenv.run("plugin", "check", "old", "--json")
    assert proc.returncode == 126, proc  # not a plugin that runs: lookup says so, as for a run
