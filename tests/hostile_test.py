"""Hostile and broken protocol streams, generated at random from a fixed seed.

Whatever a plugin writes, the host ends with its status, a tolerance that is
documented in docs/protocol.md, or a protocol error (76) explained in one
`tool:` line; never a traceback, never an internal error (70), never a hang.
"""
from __future__ import annotations

import json
import random
import subprocess

import pytest

from tests.conftest import DECLARATION, HANG_BOUND, TOOL, Env

SEED = 20261125
STREAMS = 300

VALID = [
    {"type": "output", "text": "hello\n"},
    {"type": "output", "base64": "AAEC/w=="},
    {"type": "log", "level": "info", "message": "working"},
    {"type": "log", "level": "trace", "message": "unknown level"},
    {"type": "progress", "message": "step", "current": 1, "total": 3},
    {"type": "request", "id": 1, "method": "prompt", "params": {"message": "Name?"}},
    {"type": "request", "id": 2, "method": "read_input", "params": {"max_bytes": 10}},
    {"type": "request", "id": 3, "method": "teleport", "params": {}},
    {"type": "result", "data": {"a": [1, None, "x"]}},
    {"type": "error", "code": "failed", "message": "it failed", "hint": "retry"},
    {"type": "future_message", "x": 1},
]
JUNK_VALUES = [None, True, -1, 1.5, "s", [], {}, [1, "a"], {"k": "v"}, "\u0000", 2**70]


def _mutate(rng: random.Random, msg: dict[str, object]) -> bytes:
    kind = rng.randrange(12)
    line = json.dumps(msg, separators=(",", ":"))
    if kind == 0:  # truncated JSON
        return line[: rng.randrange(1, len(line))].encode() + b"\n"
    if kind == 1:  # a field of the wrong type
        victim = dict(msg)
        field = rng.choice(sorted(victim))
        victim[field] = rng.choice(JUNK_VALUES)
        return json.dumps(victim).encode() + b"\n"
    if kind == 2:  # invalid base64
        return json.dumps({"type": "output", "base64": rng.choice(["!!", "AAE", "A===", "YQ==YQ==", "\u00e9"])}).encode() + b"\n"
    if kind == 3:  # lone surrogates
        return line.replace("hello", "\\ud800\\udfff\\udc00").replace("working", "\\ud83d").encode() + b"\n"
    if kind == 4:  # NUL bytes, raw and escaped
        return rng.choice([line.encode().replace(b":", b":\x00", 1), line.replace("hello", "he\\u0000llo").encode()]) + b"\n"
    if kind == 5:  # a second hello
        return b'{"type":"hello","protocol":1}\n'
    if kind == 6:  # random bytes
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))) + rng.choice([b"\n", b""])
    if kind == 7:  # a deep or huge line
        return rng.choice([b"[" * 100000, b"{" * (1 << 20), b'{"type":"output","text":"' + b"x" * (1 << 20) + b'"}']) + b"\n"
    if kind == 8:  # CRLF and blank lines
        return line.encode() + b"\r\n\n\r\n"
    if kind == 9:  # not an object
        return rng.choice([b"[]", b"1", b'"type"', b"null", b'{"type":7}']) + b"\n"
    return line.encode() + b"\n"


def _stream(rng: random.Random) -> bytes:
    parts = []
    if rng.random() < 0.9:
        parts.append(b'{"type":"hello","protocol":1}\n')
    for _ in range(rng.randrange(0, 9)):
        parts.append(_mutate(rng, dict(rng.choice(VALID))))
    data = b"".join(parts)
    if rng.random() < 0.15 and data.endswith(b"\n"):
        data = data[:-1]  # EOF in the middle of the last line
    return data


@pytest.mark.slow
def test_random_hostile_streams(tenv: Env) -> None:
    rng = random.Random(SEED)
    # One replaying plugin, declaring the protocol, plays every stream.
    tenv.sh("tool-replay", DECLARATION + 'exec cat "$1"\n')
    outcomes: dict[int, int] = {}
    for i in range(STREAMS):
        path = tenv.root / f"stream{i}"
        path.write_bytes(_stream(rng))
        proc = subprocess.run(
            [TOOL, "replay", str(path)], capture_output=True, env=tenv.vars, timeout=HANG_BOUND, stdin=subprocess.DEVNULL
        )
        err = proc.stderr.decode("utf-8", "replace")
        context = f"stream {i}: {path.read_bytes()[:300]!r}\nstderr: {err[-500:]}"
        assert "Traceback" not in err, context
        assert "internal error" not in err, context
        assert proc.returncode in (0, 1, 76), context
        if proc.returncode == 76:
            assert err.splitlines()[-1].startswith("tool: protocol error from tool-replay: "), context
        outcomes[proc.returncode] = outcomes.get(proc.returncode, 0) + 1
    # The generator exercises every outcome.
    assert set(outcomes) == {0, 1, 76}, outcomes


@pytest.mark.slow
def test_random_streams_in_json_mode_stay_json(tenv: Env) -> None:
    rng = random.Random(SEED + 1)
    # One replaying plugin, declaring the protocol, plays every stream.
    tenv.sh("tool-replay", DECLARATION + 'exec cat "$1"\n')
    for i in range(60):
        path = tenv.root / f"stream{i}"
        path.write_bytes(_stream(rng))
        proc = subprocess.run(
            [TOOL, "--json", "replay", str(path)], capture_output=True, env=tenv.vars, timeout=HANG_BOUND, stdin=subprocess.DEVNULL
        )
        lines = [json.loads(x) for x in proc.stdout.splitlines()]  # every line is JSON
        assert lines[-1] == {"type": "exit", "code": proc.returncode}, (i, proc.stdout[-300:])
