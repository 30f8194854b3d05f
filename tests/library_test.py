"""dispatch.Dispatcher as a library: another program name, its own env prefix, no exec, errors."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import Env


def _program(tenv: Env, name: str, body: str) -> str:
    path = tenv.root / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def mycli(tenv: Env) -> str:
    return _program(
        tenv,
        "mycli",
        """
        from dispatch import Dispatcher
        Dispatcher(prog="mycli", version="9.9").run()
        """,
    )


def test_second_program_uses_its_own_prefix_and_env(tenv: Env, mycli: str) -> None:
    tenv.sh("tool-greet", "echo wrong-prefix\n")
    extra = tenv.root / "extra"
    tenv.sh("mycli-greet", 'echo "hi $1 from $MYCLI_COMMAND via $MYCLI_BIN"; echo "${TOOL_BIN-no-tool-bin}"\n', directory=extra)
    proc = tenv.run("greet", "bob", exe=mycli, env={"MYCLI_PLUGIN_PATH": str(extra)})
    assert proc.returncode == 0
    assert proc.stdout.decode().splitlines() == [f"hi bob from greet via {mycli}", "no-tool-bin"]
    # TOOL_PLUGIN_PATH means nothing to mycli.
    proc = tenv.run("greet", exe=mycli, env={"TOOL_PLUGIN_PATH": str(extra)})
    assert proc.returncode == 127
    assert proc.stderr.decode() == "mycli: 'greet' is not a mycli command. See 'mycli list' for the plugins on the search path.\n"


def test_second_program_builtins_speak_its_name(tenv: Env, mycli: str) -> None:
    assert tenv.run("--version", exe=mycli).stdout.startswith(b"mycli 9.9 ")
    tenv.sh("mycli-a", "true\n")
    listing = tenv.run("list", exe=mycli).stdout.decode()
    assert listing.splitlines()[1].split() == ["a", "plain", f"{tenv.bin}/mycli-a"]
    assert tenv.run("help", exe=mycli).stdout.startswith(b"usage: mycli ")


def test_env_prefix_derived_from_prog() -> None:
    from dispatch import Dispatcher

    assert Dispatcher(prog="my-cli").program.env_prefix == "MY_CLI_"
    assert Dispatcher(prog="x", env_prefix="ZED_").program.env_prefix == "ZED_"
    with pytest.raises(ValueError):
        Dispatcher(prog="../x")


def test_without_exec_the_host_waits_and_reports(tenv: Env) -> None:
    prog = _program(
        tenv,
        "waiter",
        """
        import sys
        from dispatch import Dispatcher
        status = Dispatcher(prog="waiter", use_exec=False).main()
        print(f"host saw {status}", file=sys.stderr)
        raise SystemExit(status)
        """,
    )
    tenv.sh("waiter-ok", "cat; exit 3\n")
    proc = tenv.run("ok", exe=prog, input=b"stdin-data")
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, b"stdin-data", b"host saw 3\n")
    tenv.sh("waiter-die", "kill -TERM $$\n")
    proc = tenv.run("die", exe=prog)
    assert (proc.returncode, proc.stderr) == (143, b"host saw 143\n")
    tenv.plugin("waiter-noshebang", "echo via-sh\n")
    assert tenv.run("noshebang", exe=prog).stdout == b"via-sh\n"
    tenv.plugin("waiter-badi", "#!/nonexistent/x\n")
    proc = tenv.run("badi", exe=prog)
    assert proc.returncode == 126 and "/nonexistent/x" in proc.stderr.decode()


def test_internal_error_is_70_without_traceback_unless_verbose(tenv: Env) -> None:
    prog = _program(
        tenv,
        "buggy",
        """
        import dispatch.builtins
        from dispatch import Dispatcher
        def boom(*args):
            raise RuntimeError("boom")
        dispatch.builtins.run = boom  # a bug anywhere after start-up
        raise SystemExit(Dispatcher(prog="buggy").main())
        """,
    )
    proc = tenv.run("list", exe=prog)
    assert proc.returncode == 70
    err = proc.stderr.decode()
    assert err.startswith("buggy: internal error: RuntimeError: boom.") and err.count("\n") == 1
    proc = tenv.run("-v", "list", exe=prog)
    assert proc.returncode == 70
    assert "Traceback" in proc.stderr.decode()


def test_readme_test_command_is_what_ci_runs() -> None:
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    ci = (root / ".ci" / "run").read_text()
    blocks = [b.split("```", 1)[0].strip() for b in readme.split("```sh\n")[1:]]
    assert len(blocks) >= 2
    assert blocks[1] in ci.splitlines()
    assert "tool hello" in blocks[0]
