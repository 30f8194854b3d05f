"""Benchmarks for tool, side by side with baselines in one run: `python bench/run.py`.

Everything is measured as ratios against a baseline timed in the same run,
alternating A and B round by round (absolute times on a shared machine are
noise; ratios are what we track). Medians over rounds. Results: a table on
stdout and bench/results/latest.json. Standard library only.

It builds its own virtual environment (bench/.venv) with a current pip and a
regular (non-editable) install of this checkout, because an editable install
or an old pip's console-script wrapper (which imports `re`) would be measured
instead of tool.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".venv"
RESULTS = ROOT / "bench" / "results"


def venv(source: Path = ROOT, where: Path = VENV) -> tuple[str, str]:
    """(python, tool) of a fresh regular install of `source` (this checkout) in `where`."""
    python = where / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(source)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return str(python), str(where / "bin" / "tool")


def against(ref: str, work: Path) -> str:
    """The `tool` of another commit of this repository (`--against REF`), installed apart, to
    be measured in the same rounds as this checkout's."""
    tree = work / "against"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), ref], check=True)
    try:
        return venv(tree, ROOT / "bench" / ".venv-against")[1]
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)


def spawn_time(argv: list[str], env: dict[str, str], stdin: str | None = None) -> tuple[float, float]:
    """Wall time and CPU time (user+sys of the process tree) of one run, output discarded.

    `stdin`: a file to read; a name starting with "pipe:" gives the rest as bytes on a pipe
    that stays open until the process exits (as a host's would).
    """
    devnull = os.open(os.devnull, os.O_RDWR)
    keep = None
    if stdin and stdin.startswith("pipe:"):
        fin, keep = os.pipe()
        os.write(keep, stdin[5:].encode())
    else:
        fin = os.open(stdin, os.O_RDONLY) if stdin else devnull
    actions = [(os.POSIX_SPAWN_DUP2, fin, 0), (os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    os.close(devnull)
    if stdin:
        os.close(fin)
    if keep is not None:
        os.close(keep)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv} exited {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_utime + usage.ru_stime


def alternate(
    variants: dict[str, list[str]],
    env: dict[str, str],
    rounds: int,
    *,
    cpu: bool = False,
    stdin: str | None = None,
    extra: dict[str, tuple[list[str], dict[str, str], str | None]] | None = None,
) -> dict[str, list[float]]:
    """Run every variant once per round, in a rotating order; times per variant.

    `extra` variants carry their own environment and stdin.
    """
    runs = {n: (argv, env, stdin) for n, argv in variants.items()} | (extra or {})
    names = list(runs)
    times: dict[str, list[float]] = {n: [] for n in names}
    for name in names:  # warm the page cache and the plugin cache
        spawn_time(*runs[name])
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            wall, cpu_time = spawn_time(*runs[name])
            times[name].append(cpu_time if cpu else wall)
    return times


def ratio(times: dict[str, list[float]], a: str, b: str) -> float:
    """Median of the per-round ratios a/b (paired: both measured in the same round)."""
    return statistics.median(x / y for x, y in zip(times[a], times[b]))


def ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def write(path: Path, text: str, mode: int = 0o755) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def random_file(path: Path, mib: int) -> Path:
    """`mib` MiB of random bytes (one random MiB repeated: nothing compresses it away)."""
    with open(path, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(mib):
            f.write(chunk)
    return path


def compiled_plugins(bin_dir: Path, work: Path) -> int:
    """`tool-csmall`, a C program that exits 0, and `tool-cbig`, the same program with the
    sections of a 57 MB Go binary (kubectl 1.33's sizes: code, read-only data, Go's line
    table, data), random bytes that do not contain the declaration. Returns cbig's size."""
    source = work / "noop.c"
    source.write_text("int main(void) { return 0; }\n")
    small = bin_dir / "tool-csmall"
    subprocess.run(["cc", "-O1", "-o", str(small), str(source)], check=True)
    big = bin_dir / "tool-cbig"
    shutil.copy(small, big)
    layout = [(".text.go", 26_358_622, "alloc,code,readonly"), (".rodata.go", 11_515_716, "alloc,readonly,data"),
              (".gopclntab", 18_419_104, "alloc,readonly,data"), (".noptrdata.go", 748_964, "alloc,data")]
    for name, size, flags in layout:
        blob = random_file(work / "section", (size >> 20) + 1)
        with open(blob, "r+b") as f:
            f.truncate(size)
        subprocess.run(["objcopy", "--add-section", f"{name}={blob}", "--set-section-flags", f"{name}={flags}", str(big)],
                       check=True)
    return big.stat().st_size


def peak_rss_kib(argv: list[str], env: dict[str, str]) -> int:
    """Peak RSS (VmHWM) of the process itself, children excluded, sampled until it exits."""
    devnull = os.open(os.devnull, os.O_RDWR)
    pid = os.posix_spawn(argv[0], argv, env, file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1)])
    os.close(devnull)
    peak = 0
    while True:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError(f"{argv} failed")
            return peak
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40, help="rounds for start-up timings (default 40)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and smaller streams, for a smoke test")
    parser.add_argument("--json", default=str(RESULTS / "latest.json"), help="where to write the results")
    parser.add_argument("--against", metavar="REF", help="also measure this commit (e.g. the landed main) side by side")
    args = parser.parse_args()
    rounds = 8 if args.quick else args.rounds
    python, tool = venv()
    work = Path(tempfile.mkdtemp(prefix="tool-bench-"))
    previous = against(args.against, work) if args.against else None
    bin_dir = work / "bin"
    bin_dir.mkdir()
    env = {
        "PATH": f"{bin_dir}:{Path(python).parent}:/usr/bin:/bin",
        "HOME": str(work),
        "XDG_CACHE_HOME": str(work / "cache"),
        "XDG_CONFIG_HOME": str(work / "config"),
        "LC_ALL": "C.UTF-8",
    }
    results: dict[str, object] = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    rows: list[tuple[str, str, str, str]] = []

    # 1. dispatch overhead --------------------------------------------------------------
    # A silent plain plugin: nothing to learn from its output, so every run of it
    # shows what the first run costs. "cold": the cache cannot even be created.
    noop = write(bin_dir / "tool-noop", "#!/bin/sh\nexit 0\n")
    for name in ("git-noop", "kubectl-noop"):
        shutil.copy(noop, bin_dir / name)
    cold = {**env, "XDG_CACHE_HOME": str(work / "cache-is-a-file")}
    Path(cold["XDG_CACHE_HOME"]).write_text("")
    # An embedded dispatcher with builtins and options of its own (docs/library.md), left by run().
    shutil.copy(noop, bin_dir / "mycli-noop")
    mycli = write(
        bin_dir / "mycli",
        f"#!{python}\nfrom dispatch import Dispatcher\nfrom dispatch import Builtin, Option\n"
        "Dispatcher(prog='mycli', search_dirs=['/nonexistent'], dirs_var='MYCLI_DIRS',\n"
        "    builtins=[Builtin('paths', 'show the paths', lambda inv, args: 0)],\n"
        "    options=[Option('-c', metavar='K=V', repeat=True, help='set', env='MYCLI_C')]).run()\n",
    )
    variants = {
        "tool noop": [tool, "noop"],
        # The same plugin under the envelope for scripts: the host stays and relays its output.
        "tool --json noop": [tool, "--json", "noop"],
        # Confined by the kernel (docs/sandbox.md): Landlock, no_new_privs and a seccomp filter, then exec.
        "tool --sandbox noop": [tool, "--sandbox", "noop"],
        "embedded noop": [str(mycli), "noop"],
        "plugin alone": [str(noop)],
        "python -c pass": [python, "-c", "pass"],
    }
    for other in ("git", "kubectl"):
        exe = shutil.which(other)
        if exe:
            variants[f"{other} noop"] = [exe, "noop"]
    if previous is not None:
        variants[f"tool noop ({args.against})"] = [previous, "noop"]
    times = alternate(variants, env, rounds, extra={"tool noop (cold cache)": ([tool, "noop"], cold, None)})
    base = "python -c pass"
    for name in times:
        rows.append(("dispatch", name, f"{ms(times[name]):.1f} ms", f"{ratio(times, name, base):.2f}x python"))
    results["dispatch"] = {n: ms(t) for n, t in times.items()} | {
        "ratio_tool_vs_python": ratio(times, "tool noop", base),
        "ratio_cold_vs_python": ratio(times, "tool noop (cold cache)", base),
        "ratio_embedded_vs_python": ratio(times, "embedded noop", base),
        "ratio_sandbox_vs_python": ratio(times, "tool --sandbox noop", base),
        "ratio_json_vs_python": ratio(times, "tool --json noop", base),
        "target": 1.1,
        "target_json": 1.3,
        "target_cold": 1.15,
        "target_sandbox": 1.2,
    }
    if previous is not None:
        name = f"tool noop ({args.against})"
        rows.append(("dispatch", f"this checkout vs {args.against}", "", f"{ratio(times, 'tool noop', name):.3f}x"))
        results["dispatch"]["ratio_vs_against"] = ratio(times, "tool noop", name)  # type: ignore[index]

    # 1b. a large compiled plugin, decided with no usable cache (a fresh CI container) ----------
    if shutil.which("cc") and shutil.which("objcopy"):
        big = compiled_plugins(bin_dir, work)
        variants = {"tool csmall (no cache)": [tool, "csmall"], "tool cbig (no cache)": [tool, "cbig"]}
        if previous is not None:
            variants[f"tool cbig (no cache, {args.against})"] = [previous, "cbig"]
        times = alternate(variants, cold, rounds, extra={"tool cbig (cache)": ([tool, "cbig"], env, None)})
        for name in times:
            rows.append(("declaration", f"{name}, {big / 1e6:.0f} MB", f"{ms(times[name]):.1f} ms",
                         f"{ratio(times, name, 'tool csmall (no cache)'):.2f}x a small binary"))
        results["declaration"] = {n: ms(t) for n, t in times.items()} | {
            "big_bytes": big,
            "ratio_big_vs_small": ratio(times, "tool cbig (no cache)", "tool csmall (no cache)"),
            "target": 1.3,
        }

    # 2. protocol round trip --------------------------------------------------------------
    pnoop = write(
        bin_dir / "tool-pnoop",
        f"#!{python}\n# speaks TOOL_PROTOCOL\nfrom protocol.plugin import Plugin\nplugin = Plugin('pnoop')\n"
        "plugin.run(lambda ctx, args: None)\nplugin.main()\n",
    )
    spawn_time([tool, "pnoop"], env)  # learn it
    # The plugin alone does the same work as under tool: protocol mode, fed a run request.
    run_request = (
        'pipe:{"type":"run","argv":[],"interactive":false,"output":"text","color":false,"width":80,'
        '"verbosity":0,"host":{"name":"bench","version":"0"}}\n'
    )
    round_trips = {"tool pnoop": [tool, "pnoop"], "python -c pass": [python, "-c", "pass"]}
    if previous is not None:
        spawn_time([previous, "pnoop"], env)
        round_trips[f"tool pnoop ({args.against})"] = [previous, "pnoop"]
    times = alternate(
        round_trips, env, rounds,
        extra={"plugin alone (protocol)": ([str(pnoop)], {**env, "TOOL_PROTOCOL": "1"}, run_request)},
    )
    if previous is not None:
        name = f"tool pnoop ({args.against})"
        rows.append(("protocol", f"this checkout vs {args.against}", "", f"{ratio(times, 'tool pnoop', name):.3f}x"))
    overhead = [a - b for a, b in zip(times["tool pnoop"], times["plugin alone (protocol)"])]
    round_trip = statistics.median(o / p for o, p in zip(overhead, times["python -c pass"]))
    rows.append(("protocol", "tool pnoop", f"{ms(times['tool pnoop']):.1f} ms", ""))
    rows.append(("protocol", "plugin alone", f"{ms(times['plugin alone (protocol)']):.1f} ms", ""))
    rows.append(("protocol", "overhead", f"{statistics.median(overhead) * 1000:.1f} ms", f"{round_trip:.2f}x python start"))
    results["protocol_round_trip"] = {n: ms(t) for n, t in times.items()} | {
        "overhead_ms": statistics.median(overhead) * 1000,
        "overhead_vs_python_start": round_trip,
        "target": 1.1,
    }

    # 2b. a minimal SDK plugin (one `ctx.output`), run directly by a person and through tool -----
    hello = write(
        bin_dir / "tool-sdkhello",
        f"#!{python}\n# speaks TOOL_PROTOCOL\nfrom protocol.plugin import Plugin\nplugin = Plugin('sdkhello')\n"
        "@plugin.run\ndef run(ctx, args):\n    ctx.output('hello\\n')\nplugin.main()\n",
    )
    spawn_time([tool, "sdkhello"], env)  # learn it
    sdk_runs = {"SDK plugin run directly": [str(hello)], "tool sdkhello": [tool, "sdkhello"], "python -c pass": [python, "-c", "pass"]}
    times = alternate(sdk_runs, env, rounds)
    for name, target in (("SDK plugin run directly", 1.15), ("tool sdkhello", 2.3)):
        rows.append(("sdk", name, f"{ms(times[name]):.1f} ms", f"{ratio(times, name, 'python -c pass'):.2f}x python (target {target})"))
    results["sdk"] = {n: ms(t) for n, t in times.items()} | {
        "ratio_direct_vs_python": ratio(times, "SDK plugin run directly", "python -c pass"),
        "ratio_through_tool_vs_python": ratio(times, "tool sdkhello", "python -c pass"),
        "target_direct": 1.15,
        "target_through_tool": 2.3,
    }

    # 3. throughput -----------------------------------------------------------------------
    count = 20_000 if args.quick else 200_000
    stream = work / "stream.jsonl"
    with open(stream, "w") as f:
        f.write('{"type":"hello","protocol":1}\n')
        for i in range(count):
            f.write(json.dumps({"type": "output", "text": f"line {i:06d} of the output stream\n"}, separators=(",", ":")) + "\n")
    write(bin_dir / "tool-pstream", f"#!/bin/sh\n# speaks TOOL_PROTOCOL\nexec cat {stream}\n")
    reference = write(
        work / "reference.py",
        f"#!{python}\nimport json, subprocess\n"
        f"p = subprocess.Popen(['cat', {str(stream)!r}], stdout=subprocess.PIPE)\n"
        "for line in p.stdout:\n    json.loads(line)\np.wait()\n",
    )
    spawn_time([tool, "pstream"], env)
    times = alternate({"tool pstream": [tool, "pstream"], "reference loop": [str(reference)]}, env, max(5, rounds // 4), cpu=True)
    rows.append(("throughput", f"tool, {count} output messages", f"{ms(times['tool pstream']):.0f} ms cpu", f"{ratio(times, 'tool pstream', 'reference loop'):.2f}x reference"))
    rows.append(("throughput", "reference: read + json.loads per line", f"{ms(times['reference loop']):.0f} ms cpu", ""))
    results["throughput"] = {n: ms(t) for n, t in times.items()} | {
        "messages": count,
        "ratio_vs_reference": ratio(times, "tool pstream", "reference loop"),
        "target": 0.5,
    }
    # Records: the same count of `record` messages, shown as JSON lines into a pipe.
    records = work / "records.jsonl"
    with open(records, "w") as f:
        f.write('{"type":"hello","protocol":1}\n')
        for i in range(count):
            f.write(json.dumps({"type": "record", "data": {"n": i, "text": f"line {i:06d} of the stream"}}, separators=(",", ":")) + "\n")
    write(bin_dir / "tool-precords", f"#!/bin/sh\n# speaks TOOL_PROTOCOL\nexec cat {records}\n")
    spawn_time([tool, "precords"], env)
    times = alternate({"tool precords": [tool, "precords"], "tool pstream": [tool, "pstream"]}, env, max(5, rounds // 4))
    rows.append(("records", f"tool, {count} record messages to a pipe", f"{ms(times['tool precords']):.0f} ms", f"{ratio(times, 'tool precords', 'tool pstream'):.2f}x as many outputs"))
    results["records"] = {n: ms(t) for n, t in times.items()} | {
        "messages": count,
        "ratio_vs_outputs": ratio(times, "tool precords", "tool pstream"),
        "target": 1.5,
    }

    # The user's stdin for a protocol plugin: the same SDK code reading it all, run by tool
    # (stdin_fd, or read_input when the host has no stdin_fd) and run directly.
    input_mb = 16 if args.quick else 100
    data = random_file(work / "input", input_mb)
    reader = (
        f"#!{python}\n# speaks TOOL_PROTOCOL\nimport sys\nfrom protocol.plugin import Plugin\nplugin = Plugin('pin')\n"
        "@plugin.run\ndef run(ctx, args):\n    n = 0\n    read = ctx.stdin.read if not args else ctx.read_input\n"
        "    while True:\n        block = read(1 << 20)\n        if not block:\n            return n\n        n += len(block)\n"
        "plugin.main()\n"
    )
    pin = write(bin_dir / "tool-pin", reader)
    spawn_time([tool, "pin"], env, str(data))
    times = alternate(
        {}, env, max(5, rounds // 4),
        extra={
            "tool pin (stdin_fd)": ([tool, "pin"], env, str(data)),
            "tool pin (read_input)": ([tool, "pin", "read_input"], env, str(data)),
            "plugin alone": ([str(pin)], env, str(data)),
        },
    )
    for name in ("tool pin (stdin_fd)", "tool pin (read_input)"):
        rows.append(("input", f"{name}, {input_mb} MiB", f"{ms(times[name]):.0f} ms", f"{ratio(times, name, 'plugin alone'):.2f}x direct read"))
    rows.append(("input", f"plugin reading its own stdin, {input_mb} MiB", f"{ms(times['plugin alone']):.0f} ms", ""))
    results["input"] = {n: ms(t) for n, t in times.items()} | {
        "MiB": input_mb,
        "ratio_stdin_fd_vs_direct": ratio(times, "tool pin (stdin_fd)", "plugin alone"),
        "ratio_read_input_vs_direct": ratio(times, "tool pin (read_input)", "plugin alone"),
        "target": 1.5,
    }

    size_mb = 64 if args.quick else 512
    blob = random_file(work / "blob", size_mb)
    write(bin_dir / "tool-relay", f"#!/bin/sh\necho start\nexec cat {blob}\n")
    # A plain plugin's stdout goes through the host only when it must count it (--max-output).
    relay = "tool --max-output relay"
    times = alternate({relay: [tool, "--max-output", "100G", "relay"], "cat": ["/bin/cat", str(blob)]}, env, max(3, rounds // 8))
    mbps = {n: size_mb / statistics.median(t) for n, t in times.items()}
    rows.append(("throughput", f"plain relay, {size_mb} MiB", f"{mbps[relay]:.0f} MiB/s", f"{ratio(times, 'cat', relay):.2f}x cat speed"))
    results["relay"] = {"MiB_per_s": mbps, "speed_vs_cat": ratio(times, "cat", relay)}

    # 4. memory ---------------------------------------------------------------------------
    gib = 0.125 if args.quick else 1.0
    messages = int(gib * (1 << 30) / (48 * 1024))
    write(
        bin_dir / "tool-pbig",
        f"#!{python}\n# speaks TOOL_PROTOCOL\nimport os, json, base64\nos.write(1, b'{{\"type\":\"hello\",\"protocol\":1}}\\n')\n"
        "line = json.dumps({'type': 'output', 'base64': base64.b64encode(os.urandom(48 * 1024)).decode()}).encode() + b'\\n'\n"
        f"for _ in range({messages}):\n    os.write(1, line)\n",
    )
    peak = peak_rss_kib([tool, "pbig"], env)
    rows.append(("memory", f"host peak RSS, {gib:g} GiB through the protocol", f"{peak / 1024:.1f} MiB", "target <= 16 MiB"))
    results["memory"] = {"peak_rss_mib": peak / 1024, "gib": gib, "target_mib": 16}

    # 5. discovery --------------------------------------------------------------------------
    dirs = []
    for d in range(100):
        pdir = work / "plugins" / f"d{d:03d}"
        pdir.mkdir(parents=True)
        dirs.append(str(pdir))
        for i in range(20):
            for prefix in ("tool", "kubectl"):
                write(pdir / f"{prefix}-p{d:03d}x{i:02d}", "#!/bin/sh\n")
    many = {**env, "PATH": ":".join(dirs) + ":" + env["PATH"]}
    variants = {
        "tool list": [tool, "list"],
        "tool completion (names)": [tool, "__complete", "--shell", "bash", "--", "p0"],
    }
    kubectl = shutil.which("kubectl")
    if kubectl:
        variants["kubectl plugin list"] = [kubectl, "plugin", "list"]
    try:
        times = alternate(variants, many, max(5, rounds // 4))
    except RuntimeError:
        # kubectl plugin list exits 1 when it finds warnings; time it regardless
        times = _alternate_ignoring_status(variants, many, max(5, rounds // 4))
    for name in variants:
        extra = f"{ratio(times, name, 'kubectl plugin list'):.2f}x kubectl" if kubectl else ""
        rows.append(("discovery", f"{name}, 2000 plugins in 100 dirs", f"{ms(times[name]):.1f} ms", extra))
    results["discovery"] = {n: ms(t) for n, t in times.items()} | (
        {"ratio_list_vs_kubectl": ratio(times, "tool list", "kubectl plugin list"), "target": 0.25,
         "ratio_completion_vs_kubectl": ratio(times, "tool completion (names)", "kubectl plugin list"), "target_completion": 0.15}
        if kubectl else {}
    )

    # 6. installing plugins, per source kind ---------------------------------------------------
    if shutil.which("git"):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import install

        installs = install.run(tool, python, work, env, 2 if args.quick else 5)
        for kind, ours, theirs in installs:
            rows.append(("install", f"tool plugin install ({kind})", f"{ours * 1000:.0f} ms",
                         f"{ours / theirs:.2f}x by hand ({theirs * 1000:.0f} ms)"))
        results["install"] = {kind: {"tool_ms": ours * 1000, "by_hand_ms": theirs * 1000} for kind, ours, theirs in installs}

    shutil.rmtree(work, ignore_errors=True)
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    print(f"tool benchmarks ({results['date']}, {results['machine']['platform']}, Python {results['machine']['python']})")  # type: ignore[index]
    for r in rows:
        print("  ".join(f"{c:<{width[i]}}" for i, c in enumerate(r)))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {out}")
    return 0


def _alternate_ignoring_status(variants: dict[str, list[str]], env: dict[str, str], rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {n: [] for n in variants}
    for r in range(rounds + 1):
        for name, argv in variants.items():
            t0 = time.perf_counter()
            subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r:
                times[name].append(time.perf_counter() - t0)
    return times


if __name__ == "__main__":
    raise SystemExit(main())
