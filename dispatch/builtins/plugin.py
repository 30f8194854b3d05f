"""`tool plugin check NAME [-- ARGS...]`: run a plugin through the protocol's scenarios and report.

For authors in any language: it checks the hello and version negotiation,
a run (with ARGS, `--help` by default: the run really happens), `describe`,
`complete`, `cancel`, and that the plugin stops at EOF on stdin. Every
message is checked against the message model and protocol/schema/v1.json.
"""
from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from dispatch.cli import Dispatcher
    from dispatch.probe import Answer

USAGE = "plugin check NAME [--json] [-- ARGS...]"


def run(dispatcher: Dispatcher, args: list[str]) -> int:
    from dispatch.cli import _usage_error

    if args[:1] in (["-h"], ["--help"]) or not args:
        sys.stdout.write(f"usage: {dispatcher.prog} {USAGE}\n")
        return 0 if args else 2
    if args[0] != "check":
        raise _usage_error(f"plugin: unknown subcommand {args[0]!r}; usage: {dispatcher.prog} {USAGE}")
    rest = args[1:]
    run_args: list[str] = ["--help"]
    if "--" in rest:
        i = rest.index("--")
        rest, run_args = rest[:i], rest[i + 1 :]
    as_json = dispatcher.options.json or "--json" in rest
    rest = [a for a in rest if a != "--json"]
    if not rest:
        raise _usage_error(f"plugin check: name a plugin; usage: {dispatcher.prog} {USAGE}")
    found, words = dispatcher.lookup(rest, os.environ)
    env = dict(os.environ)
    env[dispatcher.env_prefix + "COMMAND"] = " ".join(words[: found.nwords])
    env[dispatcher.env_prefix + "BIN"] = dispatcher.bin
    results = [scenario(dispatcher, found.path, env, run_args) for scenario in SCENARIOS]
    failed = [r for r in results if not r["ok"]]
    if as_json:
        from dispatch.builtins import common

        common.write_json({"plugin": found.path, "ok": not failed, "checks": results})
        return 1 if failed else 0
    out = [f"checking {found.path}\n"]
    for r in results:
        out.append(f"  {'ok  ' if r['ok'] else 'FAIL'}  {r['name']}: {r['detail']}\n")
    out.append(f"{len(results) - len(failed)} of {len(results)} checks passed\n")
    sys.stdout.write("".join(out))
    return 1 if failed else 0


def _result(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "ok": ok, "detail": detail}


def _ask(dispatcher: Dispatcher, path: str, env: Mapping[str, str], request: Mapping[str, Any] | None, **kw: Any) -> Answer:
    from dispatch import probe

    return probe.ask(path, request, env, env_prefix=dispatcher.env_prefix, **kw)


def _schema_problems(answer: Answer) -> list[str]:
    from protocol import schema

    problems = []
    for msg in ([answer.hello] if answer.hello else []) + answer.stream:
        problems += [f"{msg.get('type')}: {p}" for p in schema.errors(msg, "plugin_message")]
    return problems


def _host(dispatcher: Dispatcher) -> dict[str, str]:
    return {"name": dispatcher.prog, "version": dispatcher.version}


def check_hello(dispatcher: Dispatcher, path: str, env: Mapping[str, str], run_args: list[str]) -> dict[str, Any]:
    answer = _ask(dispatcher, path, env, None, close_stdin_after_hello=True)
    if answer.hello is None:
        return _result("hello", False, f"no valid hello first on stdout ({answer.problem}); a protocol plugin greets first thing")
    if answer.hello.get("protocol") != 1:
        return _result("hello", False, f"offered 1, it chose {answer.hello.get('protocol')!r}")
    info = answer.hello.get("plugin") or {}
    missing = [k for k in ("name", "version", "summary") if not info.get(k)]
    detail = "greets with protocol 1" + (f"; consider adding plugin.{', plugin.'.join(missing)} for 'tool list'" if missing else "")
    return _result("hello", True, detail)


def check_declaration(dispatcher: Dispatcher, path: str, env: Mapping[str, str], run_args: list[str]) -> dict[str, Any]:
    from dispatch import declaration

    name = dispatcher.env_prefix + "PROTOCOL"
    declared = declaration.scan(path, name.encode())[0]
    greets = _ask(dispatcher, path, env, None, close_stdin_after_hello=True).hello is not None
    if declared and greets:
        return _result("declaration", True, f"its file contains {name}, so {dispatcher.prog} runs it as a protocol plugin")
    if greets:
        return _result(
            "declaration", False,
            f"it greets, but its file does not contain the text {name}, so {dispatcher.prog} runs it as a plain "
            f"program and never sends it a run request; add the line '# speaks {name}' near the top of {path}",
        )
    if declared:
        return _result(
            "declaration", False,
            f"its file contains {name} (declaring the protocol) but it does not greet: {dispatcher.prog} will relay "
            f"it as a plain program; send a hello first thing when {name} is set, or remove the text from the file",
        )
    return _result(
        "declaration", False,
        f"a plain program: its file does not contain {name} and it does not greet (the protocol checks do not apply)",
    )


def check_negotiation(dispatcher: Dispatcher, path: str, env: Mapping[str, str], run_args: list[str]) -> dict[str, Any]:
    answer = _ask(dispatcher, path, env, None, offer="99", close_stdin_after_hello=True)
    if answer.hello is None:
        return _result("version mismatch", False, f"offered only 99: no hello ({answer.problem})")
    if answer.hello.get("protocol") is not None:
        return _result("version mismatch", False, f"offered only 99, it chose {answer.hello.get('protocol')!r} instead of null")
    if not answer.hello.get("supported"):
        return _result("version mismatch", False, "a hello with protocol null must list 'supported'")
    if answer.status in (0, None):
        return _result("version mismatch", False, f"it must exit non-zero (76) after saying so, exited {answer.status}")
    return _result("version mismatch", True, f"says it speaks {answer.hello['supported']} and exits {answer.status}")


def check_run(dispatcher: Dispatcher, path: str, env: Mapping[str, str], run_args: list[str]) -> dict[str, Any]:
    request = {
        "type": "run", "argv": run_args, "interactive": False, "output": "json", "color": False,
        "width": 80, "verbosity": 0, "host": _host(dispatcher),
    }
    answer = _ask(dispatcher, path, env, request, timeout=30.0, args=tuple(run_args))
    if answer.problem:
        return _result("run", False, answer.problem)
    problems = _schema_problems(answer)
    if problems:
        return _result("run", False, "; ".join(problems))
    types = sorted({m["type"] for m in answer.stream})
    return _result("run", True, f"{' '.join(run_args)!r}: exit {answer.status}, sent {', '.join(types) or 'nothing'}")


def _first_request(name: str, request_type: str, answer_type: str, extra: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    def check(dispatcher: Dispatcher, path: str, env: Mapping[str, str], run_args: list[str]) -> dict[str, Any]:
        request = {"type": request_type, "host": _host(dispatcher), **extra}
        answer = _ask(dispatcher, path, env, request, answer_type=answer_type)
        if answer.problem:
            return _result(name, False, answer.problem)
        if answer.answer is None:
            return _result(name, False, f"no {answer_type!r} and no 'error' answer")
        problems = _schema_problems(answer)
        if problems:
            return _result(name, False, "; ".join(problems))
        if answer.answer["type"] == "error":
            if answer.status != 76:
                return _result(name, False, f"answered 'error' (not supported) but exited {answer.status}, not 76")
            return _result(name, True, f"not supported (answers 'error' and exits 76): optional, but '{request_type}' makes your plugin {'listable' if name == 'describe' else 'completable'}")
        if answer.status != 0:
            return _result(name, False, f"answered, then exited {answer.status} instead of 0")
        return _result(name, True, f"answers {answer_type!r}")

    return check


def check_cancel(dispatcher: Dispatcher, path: str, env: Mapping[str, str], run_args: list[str]) -> dict[str, Any]:
    from dispatch import spawn
    from protocol import framing

    child_env = dict(env)
    child_env[dispatcher.env_prefix + "PROTOCOL"] = "1"
    child = spawn.spawn(path, run_args, child_env)
    try:
        request = {
            "type": "run", "argv": run_args, "interactive": False, "output": "json", "color": False,
            "width": 80, "verbosity": 0, "host": _host(dispatcher),
        }
        time.sleep(0.2)
        os.write(child.stdin, framing.encode(request) + framing.encode({"type": "cancel", "reason": "interrupt"}))  # type: ignore[arg-type]
        status = _wait(child.pid, 3.0)
        if status is None:
            return _result("cancel", False, "still running 3 s after 'cancel' (stdin still open); stop soon after cancel")
        return _result("cancel", True, f"stopped after 'cancel' (exit {status})")
    except BrokenPipeError:
        return _result("cancel", True, "finished before the cancel arrived")
    finally:
        _cleanup(child)


def check_eof(dispatcher: Dispatcher, path: str, env: Mapping[str, str], run_args: list[str]) -> dict[str, Any]:
    answer = _ask(dispatcher, path, env, None, close_stdin_after_hello=True, timeout=5.0, exit_wait=4.0)
    if answer.hello is None:
        return _result("eof on stdin", False, f"no hello ({answer.problem})")
    if answer.status is None:
        return _result("eof on stdin", False, "kept running after its stdin closed; the host is gone then: stop at once")
    return _result("eof on stdin", True, f"stops when the host goes away (exit {answer.status})")


def _wait(pid: int, seconds: float) -> int | None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        done, wstatus = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(wstatus)
        time.sleep(0.02)
    return None


def _cleanup(child: Any) -> None:
    from dispatch import spawn

    spawn.abandon(child)


SCENARIOS = [
    check_declaration,
    check_hello,
    check_negotiation,
    check_run,
    _first_request("describe", "describe", "description", {}),
    _first_request("complete", "complete", "completions", {"words": [], "current": ""}),
    check_cancel,
    check_eof,
]
