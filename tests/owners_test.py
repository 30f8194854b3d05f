"""What had two or more copies that disagreed, now with one owner each, held to one answer:
questions and their answers (host and SDK), a call's answer (through tool and run directly),
the terminal's width, the host options (parsing, help and completion), the commands, and the
problems doctor reads (codes, not prose)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dispatch import options
from dispatch.builtins import complete
from dispatch.commands import BUILTINS, PLUGIN_COMMANDS
from protocol import width
from protocol.calls import CallOutput
from protocol.questions import Question
from tests.conftest import TOOL, Env, PtyRun, in_pty, offered, sdk_plugin

CHOOSE = """
colour = ctx.choose("Colour?", ["red", "green"])
ctx.output(f"colour={colour}\\n")
"""


# -- questions ------------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["²", "١", "0", "3", "9" * 5000, " ", "greenish"])
def test_an_answer_that_is_no_choice_is_asked_again(typed: str) -> None:
    assert Question("choose", {"message": "Colour?", "choices": ["red", "green"]}).answer(typed) == (False, None)


def test_the_answers_a_person_types_mean_the_same_everywhere() -> None:
    choose = Question("choose", {"message": "C?", "choices": ["red", "green"], "default": "green"})
    assert [choose.answer(t) for t in ("2", " 1 ", "red", "")] == [(True, "green"), (True, "red"), (True, "red"), (True, "green")]
    confirm = Question("confirm", {"message": "Sure?"})
    assert [confirm.answer(t) for t in ("Y", "no", "")] == [(True, True), (True, False), (False, None)]
    prompt = Question("prompt", {"message": "Name?", "default": "Ada"})
    assert [prompt.answer(t) for t in ("", "  Grace ")] == [(True, "Ada"), (True, "  Grace ")]


def _choose_on(term: PtyRun) -> tuple[int, bytes]:
    term.read_until(b"Choose 1-2: ")
    term.send("²\r".encode())
    term.read_until(b"Please choose a number from 1 to 2: ")
    term.send(b"2\r")
    return term.finish()


def test_a_superscript_digit_at_a_choose_prompt_is_asked_again_through_tool(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-pick", CHOOSE)
    code, screen = _choose_on(in_pty(tenv, "pick"))
    assert code == 0 and b"colour=green" in screen, screen
    assert b"internal error" not in screen


def test_a_superscript_digit_at_a_choose_prompt_is_asked_again_run_directly(tenv: Env) -> None:
    path = sdk_plugin(tenv, "tool-pick", CHOOSE)
    term = PtyRun([], {**tenv.vars, "TERM": "xterm"}, tenv.root, argv=[str(path)])
    code, screen = _choose_on(term)
    assert code == 0 and b"colour=green" in screen, screen


@pytest.mark.parametrize("offer", ["²", "1,²", "١"])
def test_an_offer_of_versions_that_are_no_numbers_is_answered_not_crashed_on(tenv: Env, offer: str) -> None:
    """A protocol variable holding a superscript digit: the SDK reads only ASCII digits as
    versions (once a traceback: int("²") raises although "²".isdigit() is true)."""
    path = sdk_plugin(tenv, "tool-pick", CHOOSE)
    proc = subprocess.run([str(path)], input=b"", capture_output=True, env={**tenv.vars, "TOOL_PROTOCOL": offer}, timeout=60)
    hello = json.loads(proc.stdout.splitlines()[0])
    assert b"Traceback" not in proc.stderr
    if offer == "1,²":
        assert hello["protocol"] == 1
    else:
        assert (proc.returncode, hello["protocol"], hello["supported"]) == (76, None, [1])


# -- the terminal's width -----------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [("²", 80), ("١٠٠", 80), ("0", 80), ("-5", 80), ("", 80), ("x", 80),
                                                   ("9" * 5000, 80), ("132", 132), ("40", 40)])
def test_columns_is_used_only_when_it_is_a_positive_decimal(value: str, expected: int) -> None:
    assert width.columns((), {"COLUMNS": value}) == expected


def test_a_bad_columns_value_breaks_no_command(tenv: Env) -> None:
    sample = os.path.join(os.path.dirname(__file__), "..", "sample-plugins")
    for value in ("²", "9" * 5000, "-1"):
        proc = tenv.run("greet", "Ada", env={"COLUMNS": value, "TOOL_PLUGIN_PATH": sample})
        assert (proc.returncode, proc.stdout) == (0, b"Hello, Ada!\n"), proc.stderr
        assert tenv.run("list", env={"COLUMNS": value, "TOOL_PLUGIN_PATH": sample}).returncode == 0


def test_display_width_counts_wide_and_combining_characters() -> None:
    assert [width.cells(t) for t in ("abc", "東京都", "서울특별시", "e\u0301", "a\u200bb")] == [3, 6, 10, 1, 2]
    assert width.cut("東京都庁", 5) == "東京\u2026" and width.cells(width.cut("東京都庁", 5)) == 5
    assert width.pad("東京", 6) == "東京  "


# -- a call's answer ------------------------------------------------------------------------------

CALLER = """
got = ctx.call(*args)
ctx.output(json.dumps({"exit": got.exit, "output": list(got.output), "error": got.error, "result": got.result}) + "\\n")
"""


def _answer(proc_stdout: bytes) -> dict[str, object]:
    line = next(line for line in proc_stdout.splitlines() if line.startswith(b"{"))
    return json.loads(line)  # type: ignore[no-any-return]


def test_a_call_gives_the_same_answer_through_tool_and_run_directly(tenv: Env) -> None:
    tenv.sh("tool-latin", "printf 'caf\\351\\n'\n")
    tenv.sh("tool-fails", """# speaks TOOL_PROTOCOL
printf '%s\\n' '{"type":"hello","protocol":1,"plugin":{"name":"fails","version":"1","summary":"x"}}'
read -r run
printf '%s\\n' '{"type":"error","code":"no_db","message":"no database","hint":"start it first"}'
exit 3
""")
    caller = sdk_plugin(tenv, "tool-caller", CALLER, header="import json")
    for args in (["latin"], ["fails"]):
        through_tool = _answer(tenv.run("caller", *args).stdout)
        direct = _answer(tenv.run(*args, exe=str(caller), env={"TOOL_BIN": TOOL}).stdout)
        assert through_tool == direct, args
    assert bytes(through_tool["output"]) == b""  # type: ignore[arg-type]
    assert direct["error"] == {"code": "no_db", "message": "no database", "hint": "start it first"}
    assert direct["exit"] == 3
    assert bytes(_answer(tenv.run("caller", "latin").stdout)["output"]) == b"caf\xe9\n"  # type: ignore[arg-type]


def test_a_call_answer_keeps_bytes_and_hints() -> None:
    out = CallOutput()
    out.line(b'{"type":"output","base64":"Y2Fm6Qo="}')
    out.line(b'{"type":"error","code":"x","message":"m","hint":"h"}')
    out.line(b'{"type":"exit","code":1}')
    assert out.answer(1) == {"exit": 1, "result": None, "output_base64": "Y2Fm6Qo=", "error": {"code": "x", "message": "m", "hint": "h"}}
    killed = CallOutput()
    assert killed.answer(-9)["exit"] == 137


# -- the host options and the commands: one table each --------------------------------------------

def test_help_and_completion_show_every_host_option_of_the_table(tenv: Env) -> None:
    help_text = tenv.call("--help").stdout.decode()
    listed = "\n".join(offered(tenv.call("__complete", "--shell", "fish", "--", "--").stdout)) + "\n"
    for option in options.LIBRARY:
        assert ", ".join(option.flags) in help_text and option.help in help_text, option.flags
        for flag in option.flags:
            if flag.startswith("--"):
                assert f"{flag}\t{option.help}\n" in listed, flag


def test_completion_skips_the_value_of_every_host_option_that_takes_one(tenv: Env) -> None:
    tenv.sh("tool-deploy", "true\n")
    for option in options.LIBRARY:
        if option.metavar is None:
            continue
        flag = option.flags[-1]
        # An optional value is never the next word (`--sandbox deploy` runs deploy): nothing is skipped.
        words = (flag, "dep") if option.optional else (flag, "5", "dep")
        assert offered(tenv.call("__complete", "--", *words).stdout) == ["deploy"], flag


def test_the_plugin_subcommands_are_one_table(tenv: Env) -> None:
    usage = tenv.call("help", "plugin").stdout.decode()
    assert offered(tenv.call("__complete", "--", "plugin", "").stdout) == list(PLUGIN_COMMANDS)
    for name in PLUGIN_COMMANDS:
        assert f"tool plugin {name}" in usage
    proc = tenv.call("plugin")
    assert (proc.returncode, proc.stdout) == (2, b"")
    assert proc.stderr.decode().startswith("tool: plugin: name a subcommand (install, list, upgrade, remove, lock, check)")


def test_every_builtin_is_listed_helped_and_completed(tenv: Env) -> None:
    help_text = tenv.call("--help").stdout.decode()
    names = offered(tenv.call("__complete", "--", "").stdout)
    for name in BUILTINS:
        assert f"  {name} " in help_text and name in names
        assert tenv.call("help", name).returncode == 0
    assert complete.__name__ == "dispatch.builtins.complete"


def test_completion_offers_the_flags_help_shows_for_each_builtin_and_plugin_subcommand(tenv: Env) -> None:
    """One usage text per command: help prints it, completion reads its flags from it."""
    for name in BUILTINS:
        usage = tenv.call("help", name).stdout.decode()
        flags = sorted({w.split("=")[0].strip("[]|.") for w in usage.replace("|", " ").split() if w.lstrip("[").startswith("--")} - {"--"})
        assert sorted(offered(tenv.call("__complete", "--", name, "--").stdout)) == ([] if name == "plugin" else flags), name
    assert offered(tenv.call("__complete", "--", "list", "--").stdout) == ["--json", "--refresh"]
    for sub in PLUGIN_COMMANDS:
        usage = tenv.call("help", "plugin").stdout.decode()
        lines = [line for line in usage.splitlines() if f"plugin {sub} " in line or line.endswith(f"plugin {sub}")]
        shown = {w.split("=")[0].strip("[]|.") for line in lines for w in line.replace("|", " ").split() if w.lstrip("[").startswith("--")} - {"--"}
        assert sorted(offered(tenv.call("__complete", "--", "plugin", sub, "--").stdout)) == sorted(shown), sub
    assert "--locked" in offered(tenv.call("__complete", "--", "plugin", "install", "--").stdout)


# -- problems doctor reads by code ----------------------------------------------------------------

def test_doctor_reads_a_failed_run_by_its_code_not_its_words(tenv: Env) -> None:
    tenv.sh("tool-silent", "# speaks TOOL_PROTOCOL\necho 'not a hello'\n")
    assert tenv.run("silent").returncode == 0
    entries = list((tenv.root / "cache" / "tool" / "metadata").iterdir())
    (problem,) = [json.loads(e.read_text())["problem"] for e in entries]
    assert problem["code"] == "did_not_greet"
    # The words may change; the code decides what doctor says.
    for entry in entries:
        data = json.loads(entry.read_text())
        data["problem"]["message"] = "something else entirely"
        entry.write_text(json.dumps(data))
    found = json.loads(tenv.run("doctor", "--json").stdout)["findings"]
    assert [f["code"] for f in found] == ["did_not_greet"]
    assert "send a hello first thing" in found[0]["fix"]


def test_the_typed_embedder_runs(tenv: Env) -> None:
    """tests/data/typed/embedder.py, type-checked by .ci/run against the installed package, works."""
    embedder = os.path.join(os.path.dirname(__file__), "data", "typed", "embedder.py")
    proc = subprocess.run([sys.executable, embedder, "status"], capture_output=True, env=tenv.vars, timeout=60, check=False)
    assert (proc.returncode, proc.stderr) == (0, b""), proc.stderr
    assert proc.stdout.startswith(b"mycli 0.1.0: ok; dirs ")
