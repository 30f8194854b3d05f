"""How the code is laid out, checked: no import cycle, no private name used across modules,
small modules, and the exact set of modules the fast path to a plain plugin imports."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import Env

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dispatch", "protocol")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


class _Imports(ast.NodeVisitor):
    """What a module imports at run time (TYPE_CHECKING blocks aside), and the private names it
    takes from other modules of ours."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.imports: set[str] = set()
        self.private: list[str] = []
        self.aliases: dict[str, str] = {}

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.name == "__getattr__" and self.module in PACKAGES:
            return  # the package's lazy public names (`from dispatch import Dispatcher`)
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name in MODULES:
                self.imports.add(alias.name)
                self.aliases[alias.asname or alias.name] = alias.name

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if base in MODULES:
            self.imports.add(base)
        for alias in node.names:
            full = f"{base}.{alias.name}"
            if full in MODULES:
                self.imports.add(full)
                self.aliases[alias.asname or alias.name] = full
            elif base in MODULES and alias.name.startswith("_") and not alias.name.startswith("__"):
                self.private.append(f"from {base} import {alias.name}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if (
            isinstance(node.value, ast.Name)
            and node.value.id in self.aliases
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            self.private.append(f"{node.value.id}.{node.attr}")
        self.generic_visit(node)


def _scan() -> dict[str, _Imports]:
    found = {}
    for name, path in MODULES.items():
        visitor = _Imports(name)
        visitor.visit(ast.parse(path.read_text()))
        found[name] = visitor
    return found


SCANNED = _scan()


def test_no_import_cycle() -> None:
    graph = {name: {m for m in v.imports if m != name and m not in PACKAGES} for name, v in SCANNED.items()}
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == []


def test_no_private_name_is_used_across_modules() -> None:
    used = {name: v.private for name, v in SCANNED.items() if v.private}
    assert used == {}


def test_no_module_imports_the_cli() -> None:
    importers = sorted(name for name, v in SCANNED.items() if "dispatch.cli" in v.imports and name not in ("dispatch.__main__",))
    assert importers == []


def test_modules_are_small() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert {name: n for name, n in sizes.items() if n > 450} == {}


# The modules `tool NAME` imports to exec a plain plugin: anything more is start-up time paid
# by every command. Change this list only with a benchmark (docs/performance.md).
FAST_PATH = {
    "dispatch", "dispatch.builtins", "dispatch.cli", "dispatch.context", "dispatch.declaration",
    "dispatch.errors", "dispatch.launch", "dispatch.lookup", "dispatch.options", "dispatch.resolve",
    "dispatch.shebang",
}

_RECORDER = """
import json, os, sys
def recorder(path, argv, env):
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("dispatch", "protocol"))
    sys.stdout.write(json.dumps({"path": path, "argv": argv, "modules": loaded}))
    sys.stdout.flush()
    os._exit(0)
os.execve = recorder
from dispatch.cli import main
main(sys.argv[1:])
"""


def test_the_fast_path_imports_exactly_what_it_needs(tenv: Env) -> None:
    plugin = tenv.sh("tool-noop", "exit 0\n")
    proc = subprocess.run([sys.executable, "-c", _RECORDER, "noop", "arg"], capture_output=True,
                          env=tenv.vars, timeout=60, cwd=tenv.root)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert (seen["path"], seen["argv"]) == (str(plugin), [str(plugin), "arg"]), "exec'd the plugin"
    assert set(seen["modules"]) == FAST_PATH


def test_the_readme_maps_every_module() -> None:
    layout = (ROOT / "README.md").read_text().split("## Layout", 1)[1]
    missing = [str(p.relative_to(ROOT)) for p in MODULES.values()
               if p.name != "__init__.py" and p.parent.name != "builtins" and p.name != "__main__.py" and p.name not in layout]
    assert missing == []
