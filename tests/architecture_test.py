"""How the code is laid out, checked: no import cycle of any kind (imports at the top, inside
functions, under TYPE_CHECKING, by string), no private name used across modules, no function
over 60 lines, every package saying what it owns, the README's map of the tree exactly the
tree, and the exact set of modules the fast path to a plain plugin imports."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Env

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dispatch", "protocol")
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


class _Imports(ast.NodeVisitor):
    """Every module of ours a module imports, wherever the import stands (top level, in a
    function, under TYPE_CHECKING, or by a string given to import_module), and the private
    names it takes from other modules of ours."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.imports: set[str] = set()
        self.private: list[str] = []
        self.aliases: dict[str, str] = {}
        self.dynamic: list[str] = []  # import_module/__import__ calls whose target is not a literal

    def _add(self, name: str) -> None:
        # A package's __init__ runs before its modules, but importing a module is not using the
        # package: only a name taken from the package itself (or `import dispatch`) is an edge to it.
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name:
            self.imports.add(name)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] in PACKAGES:
                self._add(alias.name)
                self.aliases[alias.asname or alias.name] = alias.name

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            base = ".".join(self.package.split(".")[: len(self.package.split(".")) - node.level + 1] + ([base] if base else []))
        if base.split(".")[0] not in PACKAGES:
            return
        for alias in node.names:
            full = f"{base}.{alias.name}"
            if full in MODULES:
                self._add(full)
                self.aliases[alias.asname or alias.name] = full
                continue
            self._add(base)
            if alias.name.startswith("_") and not alias.name.startswith("__"):
                self.private.append(f"from {base} import {alias.name}")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in ("import_module", "__import__"):
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                if arg.value.split(".")[0] in PACKAGES:
                    self._add(arg.value)
            else:
                self.dynamic.append(f"line {node.lineno}: {ast.unparse(node)}")
        self.generic_visit(node)

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
        visitor = _Imports(name, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text()))
        found[name] = visitor
    return found


SCANNED = _scan()


def cycles(graph: dict[str, set[str]]) -> list[str]:
    """Every back edge of a depth-first walk, as the loop it closes."""
    found = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(" -> ".join([*stack[stack.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_the_cycle_check_sees_every_kind_of_import() -> None:
    source = (
        "import dispatch.cli\n"
        "def f():\n    from dispatch.screen import text\n"
        "if TYPE_CHECKING:\n    from dispatch.context import Invocation\n"
        "import importlib\nimportlib.import_module('dispatch.router')\n"
    )
    visitor = _Imports("dispatch.example", False)
    visitor.visit(ast.parse(source))
    assert {"dispatch.cli", "dispatch.screen.text", "dispatch.context", "dispatch.router"} <= visitor.imports
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a -> b -> c -> a"]


def test_no_import_cycle_of_any_kind() -> None:
    graph = {name: {m for m in v.imports if m != name} for name, v in SCANNED.items()}
    assert cycles(graph) == []


def test_no_module_is_imported_by_a_string_that_is_not_a_literal() -> None:
    dynamic = {name: v.dynamic for name, v in SCANNED.items() if v.dynamic}
    assert dynamic == {}


def test_no_private_name_is_used_across_modules() -> None:
    used = {name: v.private for name, v in SCANNED.items() if v.private}
    assert used == {}


def test_no_module_imports_the_cli() -> None:
    importers = sorted(name for name, v in SCANNED.items() if "dispatch.cli" in v.imports and name not in ("dispatch", "dispatch.__main__"))
    assert importers == []


def _long_functions(path: Path) -> list[str]:
    long = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert node.end_lineno is not None
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                long.append(f"{node.name} ({length} lines, from line {node.lineno})")
    return long


def test_no_function_is_over_60_lines() -> None:
    long = {name: found for name, path in MODULES.items() if (found := _long_functions(path))}
    assert long == {}


def test_every_package_says_what_it_owns() -> None:
    silent = [name for name, path in MODULES.items() if path.name == "__init__.py" and not ast.get_docstring(ast.parse(path.read_text()))]
    assert silent == []


# The modules `tool NAME` imports to exec a plain plugin: anything more is start-up time paid
# by every command. Change this list only with a benchmark (docs/performance.md).
FAST_PATH = {
    "dispatch", "dispatch.cli", "dispatch.commands", "dispatch.context", "dispatch.declaration",
    "dispatch.dirs", "dispatch.launch", "dispatch.lookup", "dispatch.options", "dispatch.resolve",
    "dispatch.shebang", "dispatch.signals",
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


def readme_tree(text: str) -> list[str]:
    """The paths the README's layout names: one entry a line, indented two spaces a level,
    `name/` for a folder."""
    block = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    paths: list[str] = []
    folders: list[tuple[int, str]] = []
    for line in block.splitlines():
        if not line.startswith("    ") or not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        entry = line.strip().split("  ", 1)[0].strip()
        while folders and folders[-1][0] >= indent:
            folders.pop()
        base = "".join(name for _, name in folders)
        paths.append(base + entry)
        if entry.endswith("/"):
            folders.append((indent, entry))
    return paths


def test_the_readme_tree_reader_reads_nesting() -> None:
    text = "## Layout\n\n    a/    x\n      b.py  y\n      c/    z\n        d.py  w\n        e.py  u\n    f/   v\n\n## Next\n"
    assert readme_tree(text) == ["a/", "a/b.py", "a/c/", "a/c/d.py", "a/c/e.py", "f/"]
    # One module a line: two names on one line are one name, which no module has.
    assert readme_tree("## Layout\n\n    a.py, b.py  x\n") == ["a.py, b.py"]


def test_the_readme_maps_every_module_and_nothing_else() -> None:
    listed = {p for p in readme_tree((ROOT / "README.md").read_text()) if p.endswith(".py")}
    # A package's __init__ may be described too (its folder's line is required: below).
    listed -= {p for p in listed if p.endswith("/__init__.py") and (ROOT / p).is_file()}
    modules = {str(p.relative_to(ROOT)) for p in MODULES.values() if p.name != "__init__.py"}
    assert (sorted(modules - listed), sorted(listed - modules)) == ([], [])


def test_every_package_is_installed() -> None:
    import tomllib

    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    packages = {n for n, p in MODULES.items() if p.name == "__init__.py"}
    assert sorted(packages - set(listed)) == [], "a package missing from pyproject.toml is not installed"


@pytest.mark.parametrize("package", sorted(n for n, p in MODULES.items() if p.name == "__init__.py"))
def test_the_readme_maps_every_package(package: str) -> None:
    listed = readme_tree((ROOT / "README.md").read_text())
    assert package.replace(".", "/") + "/" in listed
