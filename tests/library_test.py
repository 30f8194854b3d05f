"""dispatch.Dispatcher as a library: another program name, its own env prefix, no exec, errors."""
from __future__ import annotations

import re
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
    tenv.sh("mycli-greet", 'echo "hi $1 from $MYCLI_DISPATCH_COMMAND via $MYCLI_DISPATCH_BIN"; echo "${TOOL_BIN-no-tool-bin}"\n', directory=extra)
    proc = tenv.run("greet", "bob", exe=mycli, env={"MYCLI_DISPATCH_PLUGIN_PATH": str(extra)})
    assert proc.returncode == 0
    assert proc.stdout.decode().splitlines() == [f"hi bob from greet via {mycli}", "no-tool-bin"]
    # TOOL_PLUGIN_PATH means nothing to mycli, nor does MYCLI_PLUGIN_PATH (which may be the real program's).
    for var in ("TOOL_PLUGIN_PATH", "MYCLI_PLUGIN_PATH"):
        proc = tenv.run("greet", exe=mycli, env={var: str(extra)})
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

    # Never the real program's own variables (GIT_CONFIG, GIT_PROTOCOL, DOCKER_CONFIG ...).
    assert Dispatcher(prog="my-cli").program.env_prefix == "MY_CLI_DISPATCH_"
    assert Dispatcher(prog="git").program.var("CONFIG") == "GIT_DISPATCH_CONFIG"
    assert Dispatcher(prog="tool").program.env_prefix == "TOOL_"
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


# The two dispatchers of docs/library.md, run over plugins shaped like the real ones. ----------

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _example(index: int) -> str:
    """The `index`-th python block of docs/library.md, to run with this interpreter."""
    block = (DOCS / "library.md").read_text().split("```python\n")[index + 1].split("```", 1)[0]
    assert block.startswith("#!/usr/bin/env python3\n")
    return block


def _install(path: Path, source: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\n" + source.split("\n", 1)[1])
    path.chmod(0o755)
    return str(path)


def test_the_examples_are_under_30_lines_as_the_text_says() -> None:
    import re

    said = [int(n) for n in re.findall(r"In (\d+) lines:\n\n```python\n", (DOCS / "library.md").read_text())]
    assert said == [len(_example(index).splitlines()) for index in (1, 2)]
    assert max(said) < 30


def test_the_jupyter_like_dispatcher(tenv: Env) -> None:
    from tests.conftest import SYSTEM_PATH

    jupyter = _install(tenv.root / "prefix" / "bin" / "jupyter", _example(1))
    tenv.sh("jupyter-kernelspec", 'echo "Available kernels:"; echo "  python3    $HOME/k/python3"; env >&2\n',
            directory=tenv.root / "prefix" / "bin")
    # Found next to jupyter though PATH does not have it, and nothing is set in the plugin's environment for it.
    proc = tenv.run("kernelspec", "list", exe=jupyter, env={"PATH": SYSTEM_PATH})
    assert (proc.returncode, proc.stdout.decode()) == (0, f"Available kernels:\n  python3    {tenv.vars['HOME']}/k/python3\n")
    plugin_env = dict(line.split("=", 1) for line in proc.stderr.decode().splitlines() if "=" in line)
    assert plugin_env["PATH"] == SYSTEM_PATH
    assert sorted(k for k in plugin_env if k.startswith("JUPYTER")) == ["JUPYTER_DISPATCH_BIN", "JUPYTER_DISPATCH_COMMAND"]
    # Its own options and version listing.
    paths = tenv.run("--paths", exe=jupyter)
    assert paths.returncode == 0 and paths.stdout.decode().endswith(f"bin:\n    {tenv.root}/prefix/bin\n" + "".join(
        f"    {d}\n" for d in _scripts_dir_unless(tenv.root / "prefix" / "bin")))
    assert tenv.run("--config-dir", exe=jupyter).stdout.decode() == f"{tenv.vars['HOME']}/.jupyter\n"
    version = tenv.run("--version", exe=jupyter).stdout.decode().splitlines()
    assert version[0] == "Selected Jupyter core packages..." and version[1].startswith("jupyter_core     : ")
    assert tenv.run("version", exe=jupyter).stdout.decode().splitlines() == version
    # No command: the usage on stderr and 1, as jupyter does.
    proc = tenv.run(exe=jupyter)
    assert (proc.returncode, proc.stdout) == (1, b"") and proc.stderr.startswith(b"usage: jupyter ")
    helped = tenv.run("help", exe=jupyter).stdout.decode()
    assert re.search(r"^  --paths +show all Jupyter paths$", helped, re.M) and "Jupyter: Interactive Computing" in helped
    assert "kernelspec" in helped


def _scripts_dir_unless(first: Path) -> list[str]:
    import sysconfig

    scripts = sysconfig.get_path("scripts")
    return [] if scripts == str(first) else [scripts]


def test_the_git_like_dispatcher(tenv: Env) -> None:
    import shutil

    git = _install(tenv.root / "prefix" / "bin" / "git", _example(2))
    exec_path = tenv.root / "prefix" / "libexec" / "git-core"
    tenv.sh("git-foo", 'echo "exec=$GIT_EXEC_PATH first=${PATH%%:*} pager=${GIT_PAGER-unset}"\n'
                       'echo "params=${GIT_CONFIG_PARAMETERS-unset} protocol=${GIT_PROTOCOL-unset}"\n', directory=exec_path)
    proc = tenv.run("-c", "foo.bar=baz", "-cx.y=it's", "--no-pager", "foo", exe=git)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().splitlines() == [
        f"exec={exec_path} first={exec_path} pager=cat",
        "params='foo.bar=baz' 'x.y=it'\\''s' protocol=unset",
    ]
    # git's own variables are the user's: GIT_CONFIG naming a directory, GIT_PROTOCOL reach the plugin unread.
    for _ in range(2):  # first run and later ones alike
        proc = tenv.run("foo", exe=git, env={"GIT_CONFIG": str(tenv.root), "GIT_PROTOCOL": "version=2"})
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.decode().splitlines()[1] == "params=unset protocol=version=2"
    # The caller's settings come first, as a git that runs git passes them on.
    proc = tenv.run("-c", "c.d=2", "foo", exe=git, env={"GIT_CONFIG_PARAMETERS": "'a.b=1'"})
    assert proc.stdout.decode().splitlines()[1] == "params='a.b=1' 'c.d=2' protocol=unset"
    # GIT_EXEC_PATH chooses the exec path, as under git; a relative one is printed, not searched.
    assert tenv.run("--exec-path", exe=git, env={"GIT_EXEC_PATH": "rel"}).stdout == b"rel\n"
    proc = tenv.run("-v", "foo", exe=git, env={"GIT_EXEC_PATH": "rel"})
    assert proc.returncode == 127 and "skipped program entry 'rel': relative entry" in proc.stderr.decode()
    other = tenv.root / "other"
    tenv.sh("git-foo", 'echo "other $GIT_EXEC_PATH"\n', directory=other)
    assert tenv.run("foo", exe=git, env={"GIT_EXEC_PATH": str(other)}).stdout.decode() == f"other {other}\n"
    assert tenv.run("--exec-path", exe=git).stdout.decode() == f"{exec_path}\n"
    if shutil.which("git", path=tenv.vars["PATH"]):
        # The real git, run by the plugin, reads the -c settings back.
        tenv.sh("git-cfg", "git config --get foo.bar\n", directory=exec_path)
        proc = tenv.run("-c", "foo.bar=baz value", "cfg", exe=git)
        assert (proc.returncode, proc.stdout) == (0, b"baz value\n"), proc.stderr


def _real(name: str) -> str:
    """A console script of an installed PyPI package, next to this interpreter's, or skip."""
    import shutil
    import sysconfig

    found = shutil.which(name, path=sysconfig.get_path("scripts"))
    if found is None:
        pytest.skip(f"{name} is not installed (pip install it to run this test)")
    return found


def test_the_jupyter_like_dispatcher_over_the_real_jupyter_plugins(tenv: Env) -> None:
    real = _real("jupyter")
    _real("jupyter-kernelspec")
    ours = _install(tenv.root / "elsewhere" / "jupyter", _example(1))
    for argv in (["kernelspec", "list"], ["kernelspec", "list", "--json"], ["troubleshoot", "--help"], ["nosuch"]):
        if argv[0] == "troubleshoot":
            _real("jupyter-troubleshoot")
        env = {"PATH": "/usr/bin:/bin", "JUPYTER_DATA_DIR": str(tenv.root / "data")}
        mine, theirs = tenv.run(*argv, exe=ours, env=env), tenv.run(*argv, exe=real, env=env)
        if argv == ["nosuch"]:
            assert mine.returncode != 0 and theirs.returncode != 0
            continue
        assert (mine.returncode, mine.stdout, mine.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr), argv


def test_the_git_like_dispatcher_over_a_real_git_plugin(tenv: Env) -> None:
    import os
    import shutil

    filter_repo = _real("git-filter-repo")
    real_git = shutil.which("git")
    if real_git is None:
        pytest.skip("git is not installed")
    ours = _install(tenv.root / "prefix" / "bin" / "git", _example(2))
    env = {"PATH": f"{os.path.dirname(filter_repo)}:/usr/bin:/bin"}
    mine = tenv.run("filter-repo", "--version", exe=ours, env=env)
    theirs = tenv.run("filter-repo", "--version", exe=real_git, env=env)
    assert (mine.returncode, mine.stdout, mine.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr)
    assert mine.returncode == 0 and mine.stdout
