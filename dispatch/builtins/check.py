"""`tool plugin check NAME [-- ARGS...]`: run a plugin through the protocol's scenarios and report.

For authors in any language: it checks the declaration, the hello, the features it
lists, version negotiation, a run (with ARGS, `--help` by default: the run really
happens), `describe`, `complete`, `cancel` (against a run that lasts: untested when the
run ends at once) and that the plugin stops at EOF on stdin. Every message is checked
against the message model and protocol/schema/v1.json. Each check is ok, fail, or
untested; only a failure fails the command.
"""
from __future__ import annotations

import os
import sys
import time

from dispatch import commands, declaration, lookup
from dispatch.catalog import probe
from dispatch.errors import usage_error
from dispatch.exitcodes import ExitCode
from dispatch.process import spawn
from dispatch.screen.text import visible, write_json
from protocol import framing, messages, schema
from protocol.messages import FEATURES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from dispatch.catalog.probe import Answer
    from dispatch.context import Invocation, Program
    from dispatch.sandbox.confine import Confinement


def run(inv: Invocation, args: list[str]) -> int:
    """`plugin check NAME [--json] [-- ARGS...]` (the arguments after `check`)."""
    run_args: list[str] = ["--help"]
    if "--" in args:
        i = args.index("--")
        args, run_args = args[:i], args[i + 1 :]
    as_json = inv.options.json or "--json" in args
    rest = [a for a in args if a != "--json"]
    if not rest:
        raise usage_error(f"plugin check: name a plugin; usage: {inv.prog} {commands.plugin_usage(inv.prog, 'check')}")
    found, words = lookup.lookup(inv, rest)
    env = inv.plugin_env(" ".join(words[: found.nwords]))
    checker = Checker(inv.program, found.path, env, run_args, sandbox=probe.sandbox_of(inv, found.path))
    results = checker.check()
    if not checker.declared:
        results = plain(inv, found.path, " ".join(words[: found.nwords]))
    failed = [r for r in results if not r["ok"]]
    if as_json:
        write_json({"plugin": found.path, "ok": not failed, "checks": results})
    else:
        sys.stdout.write(text_report(found.path, results))
    return ExitCode.FAILURE if failed else ExitCode.OK


def plain(inv: Invocation, path: str, command: str) -> list[dict[str, Any]]:
    """What a plain plugin can offer, checked without running it (it may do anything when
    started): its file, its #! line, its summary comment, and its completion sidecar (which
    is run, as a shell's Tab would run it)."""
    from dispatch import shebang
    from dispatch.catalog import scan, sidecar

    prog, name = inv.prog, inv.program.var("PROTOCOL")
    results = [_result("kind", True, f"a plain program (its file does not contain {name}): {prog} runs it as it is, "
                       f"and the protocol's checks do not apply; it was not run")]
    runs = os.path.isfile(path) and os.access(path, os.X_OK)
    results.append(_result("executable", runs, "a regular file you may run" if runs else f"not executable: chmod +x {path}"))
    first = shebang.read(path)
    missing = shebang.missing_interpreter(path, inv.environ.get("PATH")) if first else None
    results.append(_result(
        "interpreter", missing is None,
        f"its #! line names {missing!r}, which is not installed" if missing is not None
        else f"#!{' '.join(first)}" if first else "no #! line: a binary, or a script run by sh (as execvp does)",
    ))
    summary = scan.header_summary(path, prog)
    results.append(_result(
        "summary", True if summary else None,
        f"'{summary}'" if summary else f"no '# {prog}-summary: ...' comment in its first {scan.HEADER_LINES} lines: "
        f"'{prog} list' and '{prog} help' show no summary for it",
    ))
    helper = sidecar.find(inv, path)
    if helper is None:
        results.append(_result("completion", None, f"no sidecar {sidecar.file_name(prog, os.path.basename(path))} on the search "
                               "path: the shell offers file names after it"))
        return results
    started = time.monotonic()
    found = sidecar.complete(inv, helper, command, [], "")
    took = time.monotonic() - started
    results.append(_result(
        "completion", not found.late,
        f"{helper} did not answer within {sidecar.TIMEOUT:g} s: its candidates are dropped at every Tab" if found.late
        else f"{helper} answered {len(found.items)} candidate(s) in {took:.2f} s",
    ))
    return results


_MARKS = {"ok": "ok  ", "fail": "FAIL", "untested": "----"}


def text_report(path: str, results: list[dict[str, Any]]) -> str:
    passed = sum(1 for r in results if r["status"] == "ok")
    untested = sum(1 for r in results if r["status"] == "untested")
    lines = [f"checking {visible(path)}\n"]
    lines += [f"  {_MARKS[r['status']]}  {r['name']}: {visible(r['detail'])}\n" for r in results]
    lines.append(f"{passed} of {len(results)} checks passed" + (f", {untested} untested" if untested else "") + "\n")
    return "".join(lines)


class Bounds:
    """How long each scenario waits for the plugin (seconds): generous for real plugins,
    small in tests."""

    __slots__ = ("answer", "run", "busy", "cancel", "eof", "exit")

    def __init__(
        self, answer: float = 2.0, run: float = 10.0, busy: float = 1.0, cancel: float = 3.0, eof: float = 4.0,
        exit: float = 1.0,
    ) -> None:
        self.answer = answer  # for the hello and the answer to describe or complete
        self.run = run  # for a whole run (a run still going then is stopped, not failed)
        self.busy = busy  # a run still going after this long is busy: `cancel` is sent then
        self.cancel = cancel  # to stop after `cancel`
        self.eof = eof  # to stop after its stdin closed
        self.exit = exit  # to exit after answering


def _result(name: str, ok: bool | None, detail: str) -> dict[str, Any]:
    """One check: ok, failed, or (ok None) untested."""
    status = "untested" if ok is None else "ok" if ok else "fail"
    return {"name": name, "status": status, "ok": ok is not False, "detail": detail}


class Checker:
    """The protocol's scenarios, run against one plugin file."""

    def __init__(self, program: Program, path: str, env: Mapping[str, str], run_args: list[str],
                 bounds: Bounds | None = None, sandbox: Confinement | None = None) -> None:
        self.program = program
        self.sandbox = sandbox  # every run of the plugin confined as its policy says
        self.path = path
        self.env = env
        self.run_args = run_args
        self.bounds = bounds or Bounds()
        self.declared = False

    def check(self) -> list[dict[str, Any]]:
        first = self.declaration()
        if first["status"] == "fail" and not self.declared:
            return [first]  # a plain program: never run (it may do anything), nothing else applies
        return [first, *(scenario() for scenario in (
            self.hello, self.features, self.negotiation, self.run, self.describe, self.complete, self.cancel, self.eof,
        ))]

    def _ask(self, request: Callable[[Any], dict[str, Any]] | None, **kw: Any) -> Answer:
        kw.setdefault("timeout", self.bounds.answer)
        kw.setdefault("exit_wait", self.bounds.exit)
        return probe.ask(self.program, self.path, request, self.env, sandbox=self.sandbox, **kw)

    @staticmethod
    def _schema_problems(answer: Answer) -> list[str]:
        problems = []
        for msg in ([answer.hello] if answer.hello else []) + answer.stream:
            problems += [f"{msg.get('type')}: {p}" for p in schema.errors(msg, "plugin_message")]
        return problems

    def declaration(self) -> dict[str, Any]:
        name = self.program.var("PROTOCOL")
        prog = self.program.prog
        declared = self.declared = declaration.scan(self.path, name.encode())[0]
        if not declared:
            # Not run: a plain program may do anything when started (deploy, wipe ...).
            return _result(
                "declaration", False,
                f"a plain program: its file does not contain the text {name}, so {prog} runs it as it is and "
                f"the protocol checks do not apply (it was not run). If it speaks the protocol, add the line "
                f"'# speaks {name}' near the top of {self.path}",
            )
        greets = self._ask(None, close_stdin_after_hello=True).hello is not None
        if greets:
            return _result("declaration", True, f"its file contains {name}, so {prog} runs it as a protocol plugin")
        return _result(
            "declaration", False,
            f"its file contains {name} (declaring the protocol) but it does not greet: {prog} will relay "
            f"it as a plain program; send a hello first thing when {name} is set, or remove the text from the file",
        )

    def hello(self) -> dict[str, Any]:
        answer = self._ask(None, close_stdin_after_hello=True)
        if answer.hello is None:
            return _result("hello", False, f"no valid hello first on stdout ({answer.problem}); a protocol plugin greets first thing")
        if answer.hello.get("protocol") != 1:
            return _result("hello", False, f"offered 1, it chose {answer.hello.get('protocol')!r}")
        info = answer.hello.get("plugin") or {}
        missing = [k for k in ("name", "version", "summary") if not info.get(k)]
        detail = "greets with protocol 1" + (
            f"; consider adding plugin.{', plugin.'.join(missing)} for '{self.program.prog} list'" if missing else ""
        )
        return _result("hello", True, detail)

    def negotiation(self) -> dict[str, Any]:
        answer = self._ask(None, offer="99", close_stdin_after_hello=True)
        if answer.hello is None:
            return _result("version mismatch", False, f"offered only 99: no hello ({answer.problem})")
        if answer.hello.get("protocol") is not None:
            return _result("version mismatch", False, f"offered only 99, it chose {answer.hello.get('protocol')!r} instead of null")
        if not answer.hello.get("supported"):
            return _result("version mismatch", False, "a hello with protocol null must list 'supported'")
        if answer.status in (0, None):
            return _result("version mismatch", False, f"it must exit non-zero (76) after saying so, exited {answer.status}")
        return _result("version mismatch", True, f"says it speaks {answer.hello['supported']} and exits {answer.status}")

    def run(self) -> dict[str, Any]:
        args = self.run_args
        started = time.monotonic()
        answer = self._ask(lambda c: c.run(args, interactive=False, output="json"), timeout=self.bounds.run, args=tuple(args))
        took = time.monotonic() - started
        still_running = answer.hello is not None and answer.problem == f"no answer within {self.bounds.run:g} s"
        if answer.problem and not still_running:
            return _result("run", False, answer.problem)
        problems = self._schema_problems(answer)
        if problems:
            return _result("run", False, "; ".join(problems))
        types = ", ".join(sorted({m["type"] for m in answer.stream})) or "nothing"
        if still_running:
            return _result("run", True, f"{' '.join(args)!r}: still running after {took:.0f} s (stopped), sent {types}")
        return _result("run", True, f"{' '.join(args)!r}: exit {answer.status} in {took:.2f} s, sent {types}")

    def features(self) -> dict[str, Any]:
        answer = self._ask(None, close_stdin_after_hello=True)
        if answer.hello is None:
            return _result("features", None, "no hello to read them from")
        uses = [str(f) for f in answer.hello.get("features", [])]
        requires = [str(f) for f in answer.hello.get("requires", [])]
        prog = f"{self.program.prog} {self.program.version}"
        missing = [f for f in requires if f not in FEATURES]
        if missing:
            return _result(
                "features", False,
                f"it requires {', '.join(missing)}, which {prog} does not have: with this {self.program.prog} it "
                f"cannot run at all; require only what it cannot work without (has: {', '.join(FEATURES)})",
            )
        unknown = [f for f in uses if f not in FEATURES]
        detail = (f"uses {', '.join(uses)}" if uses else "lists no features (protocol 1 as first published)") + (
            f"; requires {', '.join(requires)}" if requires else ""
        ) + (f"; {prog} does not know {', '.join(unknown)} (a newer host may)" if unknown else "")
        return _result("features", True, detail)

    def describe(self) -> dict[str, Any]:
        return self._first_request("describe", lambda c: c.describe(), "description", "listable")

    def complete(self) -> dict[str, Any]:
        return self._first_request("complete", lambda c: c.complete([], ""), "completions", "completable")

    def _first_request(self, name: str, request: Callable[[Any], dict[str, Any]], answer_type: str, gain: str) -> dict[str, Any]:
        answer = self._ask(request, answer_type=answer_type)
        if answer.problem:
            return _result(name, False, answer.problem)
        if answer.answer is None:
            sent = ", ".join(sorted({m["type"] for m in answer.stream}))
            return _result(
                name, False,
                f"no {answer_type!r} and no 'error' answer" + (f" (it sent {sent}: did it take {name!r} for a run?)" if sent else "")
                + f"; a plugin that does not answer {name!r} sends "
                + '{"type":"error","code":"unsupported_request","message":"..."} and exits 76',
            )
        problems = self._schema_problems(answer)
        if problems:
            return _result(name, False, "; ".join(problems))
        if answer.answer["type"] == "error":
            code = answer.answer.get("code")
            advice = "" if (code, answer.status) == ("unsupported_request", ExitCode.PROTOCOL) else (
                f" (answered {code!r}, exit {answer.status}: 'unsupported_request' and exit 76 are what the docs ask)"
            )
            return _result(name, True, f"not supported: optional, but {name!r} makes your plugin {gain}{advice}")
        if answer.status != 0:
            return _result(name, False, f"answered, then exited {answer.status} instead of 0")
        return _result(name, True, f"answers {answer_type!r}")

    def cancel(self) -> dict[str, Any]:
        client = probe.client(self.program, self.path)
        child_env = dict(self.env)
        child_env[self.program.var("PROTOCOL")] = client.offer
        if self.sandbox is not None:
            child_env = self.sandbox.environ(child_env)
        child = spawn.spawn(self.path, self.run_args, child_env, quiet=True,
                            confine=self.sandbox.spawn if self.sandbox else None)
        try:
            assert child.stdin is not None
            os.write(child.stdin, framing.encode(client.run(self.run_args, interactive=False, output="json")))
            started = time.monotonic()
            status = _wait(child.pid, self.bounds.busy)
            if status is not None:
                return _result(
                    "cancel", None,
                    f"the run with {' '.join(self.run_args)!r} ends by itself in {time.monotonic() - started:.2f} s; to "
                    f"check that the plugin stops on 'cancel', give arguments that keep it busy: "
                    f"{self.program.prog} plugin check NAME -- ARGS",
                )
            os.write(child.stdin, framing.encode(messages.cancel("interrupt", self.bounds.cancel)))
            status = _wait(child.pid, self.bounds.cancel)
            if status is None:
                return _result(
                    "cancel", False,
                    f"still running {self.bounds.cancel:g} s after 'cancel' (its stdin still open): keep reading stdin "
                    f"while you work (a thread, or between steps) and stop on {{\"type\":\"cancel\"}}, exiting 130; "
                    f"the Python SDK does this for you",
                )
            advice = "" if status == ExitCode.INTERRUPTED else " (130 is the documented status after an interrupt)"
            return _result("cancel", True, f"stopped after 'cancel' with exit {status}{advice}")
        except BrokenPipeError:
            if _wait(child.pid, 0.2) is not None:
                return _result("cancel", None, "it ended just before the cancel arrived")
            return _result("cancel", False, "it closed its stdin while running, so it cannot hear 'cancel': keep reading it")
        finally:
            spawn.stop(child)
            if self.sandbox is not None:
                self.sandbox.close()

    def eof(self) -> dict[str, Any]:
        answer = self._ask(None, close_stdin_after_hello=True, timeout=self.bounds.eof + 1, exit_wait=self.bounds.eof)
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
