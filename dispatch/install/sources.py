"""Where an installed plugin comes from, and how each kind of source is put into a version
directory (dispatch/installed.py): a local file (copied), a local directory (linked, for
development), a git repository (cloned with the `git` program), a Python package (a private
venv with its own pip), or an archive URL checked against its sha256.

A source provides one or more commands: the executables named `<prog>-NAME` at the root of
what was fetched (or of its only directory, as archives often have), or, for a Python
package, its `<prog>-NAME` console scripts.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import sys

from dispatch import resolve
from dispatch.catalog import sidecar
from dispatch.catalog.sidecar import file_name
from dispatch.errors import ToolError
from dispatch.exitcodes import ExitCode
from dispatch.install import run
from dispatch.install.manifest import copy_hashed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

KINDS = ("file", "link", "git", "python", "archive")
_GIT_URL_PREFIXES = ("git+", "git://", "ssh://", "git@", "file://")
_PACKAGE_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tar.bz2")
ARCHIVE_SUFFIX = re.compile(r"\.(tar\.gz|tgz|tar\.bz2|tbz2|tar\.xz|txz|tar|zip)$", re.I)


class Request:
    """What to fetch: the source as the user gave it (or a lock entry's), its kind, and how.
    `locked`: the lock entry being reproduced (its hashes must match), else None."""

    __slots__ = ("kind", "location", "pin", "sha256", "allow_http", "requirements", "files", "locked", "command", "commands", "sandbox")

    def __init__(
        self, kind: str, location: str, *, pin: str | None = None, sha256: str | None = None, allow_http: bool = False,
        requirements: Sequence[str] | None = None, files: Mapping[str, str] | None = None, locked: bool = False,
        sandbox: str | None = None,
    ) -> None:
        self.kind = kind
        self.location = location
        self.pin = pin
        self.sha256 = sha256.lower() if sha256 else None
        self.allow_http = allow_http
        self.requirements = list(requirements) if requirements is not None else None
        self.files = dict(files) if files is not None else None
        self.locked = locked
        self.commands: list[str] | None = None  # from a lock file: the commands the source provides
        self.command: str | None = None  # from a lock file: the name of the source's one command
        self.sandbox = sandbox  # the policy it is installed with (a name dispatch/sandbox/policy.py knows)


class Fetched:
    """What a source put into a version directory: its record for the manifest, and its
    commands (command name -> path inside the version directory)."""

    __slots__ = ("source", "commands", "completers", "notes")

    def __init__(self, source: dict[str, Any], commands: dict[str, str]) -> None:
        self.source = source
        self.commands = commands
        self.completers: dict[str, str] = {}  # command -> its `<prog>_complete-NAME` sidecar
        self.notes: list[str] = []  # what the user should know about what was (not) installed


class Fetcher:
    """Fetches sources for one program. `report(line)` shows progress on a terminal (None: quiet)."""
    __slots__ = ("prog", "needle", "env", "report", "verbose")

    def __init__(
        self, prog: str, needle: bytes, env: Mapping[str, str], report: Callable[[str], None] | None, verbose: bool
    ) -> None:
        self.prog = prog
        self.needle = needle
        self.env = env
        self.report = report
        self.verbose = verbose

    def fetch(self, request: Request, version: str) -> Fetched:
        fetched = self._fetch(request, version)
        fetched.completers = self._completers(version, fetched.commands)
        return fetched

    def _completers(self, version: str, commands: Mapping[str, str]) -> dict[str, str]:
        """The completion sidecar next to each command, `<prog>_complete-NAME` (docs/writing-plugins.md)."""
        found = {}
        for command, path in commands.items():
            head, _, base = path.rpartition("/")
            name = sidecar.file_name(self.prog, base)
            if not command or name is None:
                continue
            rel = f"{head}/{name}" if head else name
            try:
                st = os.stat(os.path.join(version, rel))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_mode & 0o111:
                found[command] = rel
        return found

    def _fetch(self, request: Request, version: str) -> Fetched:
        kind = request.kind
        if kind == "file":
            return self._file(request, version)
        if kind == "link":
            return self._link(request, version)
        if kind == "git":
            return self._git(request, version)
        if kind == "python":
            return self._python(request, version)
        if kind == "archive":
            return self._archive(request, version)
        raise ToolError(ExitCode.USAGE, f"unknown source kind {kind!r}; known: {', '.join(KINDS)}")

    # -- file, link ---------------------------------------------------------------------

    def _file(self, request: Request, version: str) -> Fetched:
        """The file, copied into the version and hashed as it is copied (a link to it followed):
        what --sha256 or the lock checked is what runs. Its completion sidecar beside it comes
        along, unless --sha256 was given: that hash is of the file alone."""
        source = request.location
        base = os.path.basename(source)
        files = os.path.join(version, "files")
        os.mkdir(files, 0o700)
        digest = _copy(source, os.path.join(files, base))
        if request.sha256 is not None and digest != request.sha256:
            raise mismatch(source, request.sha256, digest)
        command = base[len(self.prog) + 1 :] if base.startswith(self.prog + "-") else ""
        fetched = Fetched({"kind": "file", "location": source, "sha256": digest}, {command: f"files/{base}"})
        name = file_name(self.prog, base)
        beside = os.path.join(os.path.dirname(source), name or "")
        if command and name and os.path.isfile(beside) and os.access(beside, os.X_OK):
            if request.sha256 is not None:
                fetched.notes.append(f"its completion sidecar {name} was left out: --sha256 checks {base} alone")
            else:
                _copy(beside, os.path.join(files, name))  # hashed with the rest, and locked with it
        return fetched

    def _link(self, request: Request, version: str) -> Fetched:
        os.symlink(request.location, os.path.join(version, "src"))
        return Fetched({"kind": "link", "location": request.location}, self.commands_in(version, "src"))

    # -- git ----------------------------------------------------------------------------

    def _git(self, request: Request, version: str) -> Fetched:
        src = os.path.join(version, "src")
        self._say(f"cloning {request.location}")
        git(["clone", "--quiet", "--", request.location, src], self.env)
        if request.pin:
            git(["-C", src, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", request.pin, "--"], self.env,
                what=f"no tag, branch or commit {request.pin!r} in {request.location}")
        commit = git(["-C", src, "rev-parse", "HEAD"], self.env).strip()
        if request.locked and request.pin and commit != request.pin:
            raise ToolError(ExitCode.FAILURE, f"{request.location} at {request.pin} is commit {commit}, not the locked one")
        shutil.rmtree(os.path.join(src, ".git"))
        fetched = Fetched(
            {"kind": "git", "location": request.location, "pin": request.pin, "resolved": commit},
            self.commands_in(version, "src"),
        )
        return fetched

    # -- python -------------------------------------------------------------------------

    def _python(self, request: Request, version: str) -> Fetched:
        requirement = request.location
        local = os.path.isabs(requirement) and os.path.isfile(requirement)
        target = os.path.join(version, "venv")
        install: str | None = requirement
        local_digest = None
        if local:
            # Copied first, checked, and installed from the copy: pip never reads the user's file.
            os.mkdir(os.path.join(version, "dist"), 0o700)
            install = os.path.join(version, "dist", os.path.basename(requirement))
            local_digest = _copy(requirement, install)
            if request.sha256 is not None and local_digest != request.sha256:
                raise mismatch(requirement, request.sha256, local_digest)
        self._say("making a private environment (venv)")
        python = os.path.join(target, "bin", "python")
        # The host's own pip installs into the venv (`--python`), when it is recent enough: a venv
        # without a pip of its own is made in milliseconds, where ensurepip takes seconds.
        pip = host_pip(installed_only=True)
        self._run([sys.executable, "-I", "-m", "venv", *(["--symlinks"] if os.name != "nt" else []),
                   *(["--without-pip"] if pip else []), target],
                  f"{sys.executable} -m venv", run.VENV_DEADLINE, clean_env(self.env))
        report = os.path.join(version, "pip-report.json")
        args = [*(pip or [python, "-m", "pip"]), *(["--python", python] if pip else []), "install",
                "--disable-pip-version-check", "--no-input", "--no-warn-script-location", "--report", report]
        if request.requirements is not None:
            req_file = os.path.join(version, "requirements.txt")
            with open(req_file, "w") as f:
                f.write("".join(r + "\n" for r in request.requirements))
            # Locked: exactly these files, by their hashes; no build (it would fetch unpinned build
            # dependencies from an index), no configuration that could add a requirement.
            args += ["--require-hashes", "--no-deps", "--only-binary", ":all:", "-r", req_file]
        else:
            args.append(install or requirement)
        self._say(f"installing {requirement} with pip")
        self._pip(args, requirement, locked=request.requirements is not None)
        with open(report) as f:
            installs = json.load(f).get("install", [])
        os.unlink(report)
        resolved, locked = _pinned(installs, request, (install, requirement) if local and install else None)
        commands = self._console_scripts(version, target, python, requirement)
        if not commands:
            raise ToolError(ExitCode.FAILURE, f"{requirement} provides no console script named {self.prog}-NAME; nothing to install")
        source: dict[str, Any] = {"kind": "python", "location": requirement, "resolved": resolved,
                                  "requirements": request.requirements if request.requirements is not None else locked}
        if local:
            source["sha256"] = local_digest
        return Fetched(source, commands)

    def _run(self, argv: list[str], what: str, deadline: float, env: Mapping[str, str]) -> None:
        loud = self.report is not None or self.verbose
        code, out, err = run.run(argv, env, deadline=deadline, what=what, capture=not loud)
        if code != 0:
            said = [line.strip() for line in (out + err).decode(errors="replace").splitlines() if line.strip()]
            raise ToolError(ExitCode.FAILURE, f"{what} failed" + (f": {said[-1]}" if said else f" (exit status {code})"))

    def _pip(self, args: list[str], requirement: str, *, locked: bool) -> None:
        env = clean_env(self.env, locked=locked)
        loud = self.report is not None or self.verbose
        if not loud:
            args = [*args, "--quiet"]
        code, out, err = run.run(args, env, deadline=run.PIP_DEADLINE, what=f"pip install {requirement}", capture=not loud)
        if code != 0:
            text = (out + err).decode(errors="replace")
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            if "DO NOT MATCH THE HASHES" in text:
                raise ToolError(ExitCode.FAILURE, f"hash mismatch installing {requirement}: a package differs from the lock file; nothing was installed")
            detail = next((line for line in reversed(lines) if line.startswith("ERROR:")), lines[-1] if lines else "")
            raise ToolError(ExitCode.FAILURE, f"pip could not install {requirement}" + (f": {detail}" if detail else " (see its output above)"))

    def _console_scripts(self, version: str, venv_dir: str, python: str, requirement: str) -> dict[str, str]:
        import configparser
        import glob
        import keyword


        commands: dict[str, str] = {}
        for site in glob.glob(os.path.join(venv_dir, "lib", "python*", "site-packages")):
            for entry_points in sorted(glob.glob(os.path.join(site, "*.dist-info", "entry_points.txt"))):
                parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
                parser.optionxform = str  # type: ignore[assignment,method-assign]
                try:
                    parser.read(entry_points, encoding="utf-8")
                except configparser.Error:
                    continue
                if not parser.has_section("console_scripts"):
                    continue
                for script, target in parser.items("console_scripts"):
                    if not script.startswith(self.prog + "-"):
                        continue
                    command = script[len(self.prog) + 1 :]
                    module, _, attr = target.partition(":")
                    module, attr = module.strip(), attr.split("[", 1)[0].strip()
                    if resolve.name_problem(command) is not None or not module or not attr:
                        continue
                    if not all(part.isidentifier() and not keyword.iskeyword(part)
                               for part in module.split(".") + attr.split(".")):
                        continue
                    declares = self._module_declares(site, module)
                    rel = f"launchers/{script}"
                    os.makedirs(os.path.join(version, "launchers"), 0o700, exist_ok=True)
                    _write_launcher(os.path.join(version, rel), python, module, attr, requirement,
                                    self.needle.decode() if declares else None)
                    commands[command] = rel
        return commands

    def _module_declares(self, site: str, module: str) -> bool:
        base = os.path.join(site, *module.split("."))
        for path in (base + ".py", os.path.join(base, "__init__.py")):
            try:
                with open(path, "rb") as f:
                    return self.needle in f.read(16 << 20)
            except OSError:
                continue
        return False

    # -- archive ------------------------------------------------------------------------

    def _archive(self, request: Request, version: str) -> Fetched:
        from dispatch.install import archive  # urllib, tarfile, zipfile and the compressors: for archives only

        if not request.sha256:
            raise ToolError(ExitCode.USAGE, f"give the archive's sha256: {self.prog} plugin install {request.location} --sha256 HEX")
        download = os.path.join(version, ".download")
        self._say(f"downloading {request.location}")
        if os.path.isabs(request.location):
            digest = _copy(request.location, download)  # checked as the copy, unpacked from it
        else:
            digest = archive.download(request.location, download, allow_http=request.allow_http, progress=self._progress)
            self._say(f"downloaded {_size(os.path.getsize(download))}")
        if digest != request.sha256:
            raise mismatch(request.location, request.sha256, digest)
        files = os.path.join(version, "files")
        os.mkdir(files, 0o700)
        archive.unpack(download, files)
        os.unlink(download)
        return Fetched({"kind": "archive", "location": request.location, "sha256": digest}, self.commands_in(version, "files"))

    # -- shared -------------------------------------------------------------------------

    def commands_in(self, version: str, sub: str) -> dict[str, str]:
        """The `<prog>-NAME` executables at the root of `sub` (or of its only directory)."""
        top = os.path.join(version, sub)
        for _ in range(2):
            try:
                entries = sorted(os.listdir(top))
            except OSError as e:
                raise ToolError(ExitCode.FAILURE, f"cannot read {top}: {e.strerror}") from None
            found: dict[str, str] = {}
            for entry in entries:
                if not entry.startswith(self.prog + "-"):
                    continue
                command = entry[len(self.prog) + 1 :]
                path = os.path.join(top, entry)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if resolve.name_problem(command) is None and stat.S_ISREG(st.st_mode) and st.st_mode & 0o111:
                    found[command] = os.path.relpath(path, version).replace(os.sep, "/")
            if found:
                return found
            dirs = [e for e in entries if os.path.isdir(os.path.join(top, e)) and not e.startswith(".")]
            if len(dirs) != 1 or os.path.islink(os.path.join(top, dirs[0])):
                break
            top = os.path.join(top, dirs[0])
        return {}

    def _say(self, line: str) -> None:
        if self.report is not None:
            self.report(line)

    def _progress(self, done: int, total: int | None) -> None:
        if self.report is not None:
            self.report("\r" + _size(done) + (f" of {_size(total)} ({100 * done // total}%)" if total else ""))


def _pinned(installs: list[Any], request: Request, copy: tuple[str, str] | None) -> tuple[str | None, list[str] | None]:
    """From pip's report: what the plugin's own package resolved to, and every package as a
    locked requirement line (None when one has nothing to pin it by: a directory, a VCS checkout).
    `copy`: (the copy pip installed, the user's file it came from): the lock names the user's."""
    from urllib.parse import unquote
    from urllib.request import pathname2url

    # The plugin's own package: the one asked for (from a lock file: the first listed).
    project = project_name(request.requirements[0]) if request.requirements else None
    locked: list[str] | None = []
    resolved = None
    for item in installs:
        meta = item.get("metadata", {})
        info = item.get("download_info", {})
        hashes = info.get("archive_info", {}).get("hashes", {})
        digest = hashes.get("sha256") or info.get("archive_info", {}).get("hash", "").removeprefix("sha256=")
        own = project_name(str(meta.get("name"))) == project if project else bool(item.get("requested"))
        if own or resolved is None:
            resolved = f"{meta.get('name')}=={meta.get('version')}"
        url = str(info.get("url") or "")
        if copy is not None and url.startswith("file://") and unquote(url[7:]) == copy[0]:
            url = "file://" + pathname2url(copy[1])
        if locked is not None and digest and url:
            line = f"{meta.get('name')} @ {without_secret(url)} --hash=sha256:{digest}"
            locked.insert(0 if own else len(locked), line)  # the plugin's own package first
        else:
            locked = None
    return resolved, locked


# What pip may read of the user's environment in a locked install: how to reach the files
# (proxy, certificates, timeouts), never what to install or from where.
_PIP_SAFE = frozenset({"PIP_CERT", "PIP_CLIENT_CERT", "PIP_PROXY", "PIP_TIMEOUT", "PIP_DEFAULT_TIMEOUT", "PIP_RETRIES",
                       "PIP_TRUSTED_HOST", "PIP_CACHE_DIR", "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK"})


def clean_env(env: Mapping[str, str], *, locked: bool = False) -> dict[str, str]:
    """The environment for the plugin's venv Python and pip: nothing that would make Python run
    other code (PYTHONPATH, PYTHONHOME, PYTHONSTARTUP) or pip install elsewhere; locked, no pip
    configuration at all beyond how to reach the files (`_PIP_SAFE`)."""
    drop = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "PIP_USER", "PIP_TARGET", "PIP_PREFIX", "PIP_ROOT")
    clean = {k: v for k, v in env.items() if k not in drop}
    if locked:
        clean = {k: v for k, v in clean.items() if not k.startswith("PIP_") or k in _PIP_SAFE}
        clean["PIP_CONFIG_FILE"] = os.devnull  # pip then reads no configuration file at all
    return clean


# pip's `--python` (install into another interpreter's environment) is in pip 22.3 and later.
_PIP_WITH_PYTHON = (22, 3)


def host_pip(*, installed_only: bool = False) -> list[str] | None:
    """How to run a pip that belongs to the host's Python, not to a plugin's venv, isolated (-I:
    no PYTHONPATH, no user site, not the current directory): its own installed pip when it has
    `--python` (fast: compiled, no zip), else the wheel bundled with it (ensurepip; a wheel runs
    as `python WHEEL/pip`). `installed_only`: the installed pip or nothing. None when there is
    neither."""
    import glob
    import importlib.util

    if importlib.util.find_spec("pip") is not None and _pip_version() >= _PIP_WITH_PYTHON:
        return [sys.executable, "-I", "-m", "pip"]
    if installed_only:
        return None
    spec = importlib.util.find_spec("ensurepip")
    places = [os.path.join(os.path.dirname(spec.origin), "_bundled")] if spec is not None and spec.origin else []
    places.append("/usr/share/python-wheels")  # Debian's ensurepip keeps them there
    for place in places:
        wheels = sorted(glob.glob(os.path.join(place, "pip-*.whl")))
        if wheels:
            return [sys.executable, "-I", os.path.join(wheels[-1], "pip")]
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-I", "-m", "pip"]
    return None


def _pip_version() -> tuple[int, ...]:
    """The host's installed pip's version, (0,) when it cannot be told."""
    from importlib import metadata

    try:
        return tuple(int(p) for p in metadata.version("pip").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return (0,)


def _copy(source: str, dest: str) -> str:
    """`source` copied into the version directory (executable: 0700), and its sha256."""
    try:
        return copy_hashed(source, dest, 0o700)
    except OSError as e:
        if e.filename == source:
            raise ToolError(ExitCode.FAILURE, f"cannot read {source}: {e.strerror}") from None
        raise  # writing the copy: the data directory's problem (stage says so)


def _size(n: int) -> str:
    return f"{n / 1048576:.1f} MiB" if n >= 1 << 20 else f"{n / 1024:.0f} KiB" if n >= 1024 else f"{n} bytes"


def project_name(requirement: str) -> str:
    """The normalized project name a requirement line starts with (PEP 503)."""
    return re.sub(r"[-_.]+", "-", re.split(r"[\s\[<>=!~;@(]", requirement.strip(), maxsplit=1)[0]).lower()


def _write_launcher(path: str, python: str, module: str, attr: str, requirement: str, declares: str | None) -> None:
    """The executable a Python plugin is found by: its venv's python running its console script's
    function. It declares the protocol when the module it runs does (the SDK's plugins do)."""
    head, _, rest = attr.partition(".")
    call = head + (f".{rest}" if rest else "")

    if " " in python or len(python) > 120:
        # A #! line cannot hold spaces (nor, on some systems, more than 127 bytes): sh runs the
        # Python, which reads the second line as a string ending on the third.
        head_lines = ["#!/bin/sh", "'''exec' " + shlex.quote(python) + ' "$0" "$@"', "' '''"]
    else:
        head_lines = [f"#!{python}"]
    lines = [
        *head_lines,
        f"# Installed from {requirement!r} (a console script of it)."
        + (f" The module it runs speaks {declares}." if declares else ""),
        "import sys",
        "sys.dont_write_bytecode = True  # what runs is what pip installed and the manifest hashed",
        f"from {module} import {head}",
        f"sys.exit({call}())",
    ]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o700)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")


# The transports git may use: never `ext::` (runs a command) or `fd::` (reads a descriptor of ours).
GIT_PROTOCOLS = ("file", "git", "http", "https", "ssh")


def git_env(env: Mapping[str, str]) -> dict[str, str]:
    """git's environment: no prompt for credentials, real transports only (of those the user's
    GIT_ALLOW_PROTOCOL allows), and a transfer slower than 1 KB/s for 60 s given up."""
    allowed = [p for p in GIT_PROTOCOLS if p in env.get("GIT_ALLOW_PROTOCOL", ":".join(GIT_PROTOCOLS)).split(":")]
    return {**env, "GIT_TERMINAL_PROMPT": "0", "GIT_ALLOW_PROTOCOL": ":".join(allowed),
            "GIT_HTTP_LOW_SPEED_LIMIT": env.get("GIT_HTTP_LOW_SPEED_LIMIT", "1000"),
            "GIT_HTTP_LOW_SPEED_TIME": env.get("GIT_HTTP_LOW_SPEED_TIME", "60")}


def git(args: list[str], env: Mapping[str, str], *, what: str | None = None, deadline: float = run.GIT_DEADLINE) -> str:
    """Run the git program within `deadline` seconds (never asking for credentials on the
    terminal, over real transports only); its stdout."""
    command = args[0] if args[0] != "-C" else args[2]
    try:
        code, out, err = run.run(["git", *args], git_env(env), deadline=deadline, what=f"git {command}")
    except FileNotFoundError:
        raise ToolError(ExitCode.FAILURE, "git is not installed; install it to install plugins from git repositories") from None
    if code != 0:
        said = [line.strip() for line in err.decode(errors="replace").splitlines() if line.strip()]
        fatal = [line for line in said if line.startswith(("fatal:", "error:"))]
        quoted = "; ".join(fatal[:2] or said[-2:]) or f"exit status {code}"
        raise ToolError(ExitCode.FAILURE, f"{what}: git said: {quoted}" if what else f"git {command} failed: {quoted}")
    return out.decode(errors="replace")


def without_secret(url: str) -> str:
    """`url` with any password (and, for http(s), any user name: often a token) taken out."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    user, at, host = authority.rpartition("@")
    if not at:
        return url
    if scheme.lower() in ("http", "https") or ":" in user:
        keep = "" if scheme.lower() in ("http", "https") else user.split(":", 1)[0] + "@"
        return f"{scheme}://{keep}{host}{slash}{path}"
    return url


def refuse_secret(source: str) -> None:
    """A credential in a source URL would be stored in the manifest and lock files: refused."""
    url = source.split(" @ ", 1)[1] if " @ " in source else source
    url = url.removeprefix("git+")
    if without_secret(url) != url:
        raise ToolError(ExitCode.USAGE, f"refusing {without_secret(url)} with a user name or password in it: it would be "
                        "stored in the manifest and in lock files; give the URL without it and let git's credential "
                        "helper (git config credential.helper), ssh keys, or ~/.netrc (pip, downloads) provide it")


def mismatch(what: str, expected: str, got: str) -> ToolError:
    return ToolError(ExitCode.FAILURE, f"hash mismatch for {what}: expected sha256 {expected}, got {got}; nothing was installed")


def classify(source: str, *, pin: str | None, sha256: str | None) -> tuple[str, str]:
    """The kind of a source as the user gave it, and its location (local paths made absolute)."""
    lowered = source.lower()
    if "://" in source or lowered.startswith("git+"):
        refuse_secret(source)
    if " @ " in source and not os.path.exists(source):
        refuse_secret(source)
        return "python", source  # a direct reference: `name @ URL`
    url = lowered.startswith(("http://", "https://", "file://"))
    if url and sha256:
        return "archive", source
    if url and ARCHIVE_SUFFIX.search(lowered.split("?", 1)[0]):
        raise ToolError(ExitCode.USAGE, f"{source} is an archive: give its sha256 (--sha256 HEX) to install it")
    if lowered.startswith(_GIT_URL_PREFIXES) or lowered.startswith(("http://", "https://")):
        return "git", source.removeprefix("git+")
    if os.path.isdir(source):
        path = os.path.abspath(source)
        bare = os.path.isfile(os.path.join(path, "HEAD")) and os.path.isdir(os.path.join(path, "objects"))
        if pin and not bare and not os.path.exists(os.path.join(path, ".git")):
            raise ToolError(ExitCode.USAGE, f"{source} is a directory but not a git repository, and --pin needs one: "
                            "make it one (git init), or leave out --pin to link the directory as it is")
        return ("git" if pin or bare else "link"), path
    if os.path.isfile(source):
        path = os.path.abspath(source)
        if sha256 and ARCHIVE_SUFFIX.search(lowered):
            return "archive", path  # a local archive (an sdist too: give a wheel with --sha256), checked as a downloaded one is
        if lowered.endswith(_PACKAGE_SUFFIXES):
            return "python", path
        return "file", path
    if os.sep in source or source.startswith("."):
        raise ToolError(ExitCode.USAGE, f"{source}: no such file or directory")
    if source.startswith("-") or not source.strip() or "\n" in source:
        raise ToolError(ExitCode.USAGE, f"{source!r} is not a source: a path, a URL or a Python requirement (name, name==1.2)")
    return "python", source  # a requirement: `name`, `name==1.2`, `name>=1`
