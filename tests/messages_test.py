"""The message model and protocol/schema/v1.json agree on a table of valid and invalid lines."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from protocol import framing, messages, schema
from protocol.errors import ProtocolError

DATA = Path(__file__).parent / "data"


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line]


@pytest.mark.parametrize("line", _lines(DATA / "valid" / "plugin.jsonl"))
def test_valid_plugin_messages(line: str) -> None:
    msg = framing.decode(line.encode())
    messages.check_plugin_message(msg)
    assert schema.errors(msg, "plugin_message") == []


@pytest.mark.parametrize("line", _lines(DATA / "valid" / "host.jsonl"))
def test_valid_host_messages(line: str) -> None:
    msg = framing.decode(line.encode())
    messages.check_host_message(msg)
    assert schema.errors(msg, "host_message") == []


_INVALID = [json.loads(x) for x in _lines(DATA / "invalid" / "plugin.jsonl")]


@pytest.mark.parametrize("case", _INVALID, ids=[c["line"][:40] for c in _INVALID])
def test_invalid_plugin_messages_say_what_is_wrong(case: dict[str, str]) -> None:
    with pytest.raises(ProtocolError) as info:
        msg = framing.decode(case["line"].encode())
        messages.check_plugin_message(msg)
    assert case["why"] in str(info.value)
    obj = json.loads(case["line"])
    assert schema.errors(obj, "plugin_message"), "the schema must reject it too"


_FRAMING = [json.loads(x) for x in _lines(DATA / "invalid" / "framing.jsonl")]


@pytest.mark.parametrize("case", _FRAMING, ids=[c["line"][:20] for c in _FRAMING])
def test_lines_that_are_not_messages(case: dict[str, str]) -> None:
    with pytest.raises(ProtocolError) as info:
        framing.decode(case["line"].encode())
    assert case["why"] in str(info.value)
    assert len(str(info.value)) < 200, "the offending line is quoted, truncated"


def test_invalid_utf8_line() -> None:
    with pytest.raises(ProtocolError, match="not valid UTF-8"):
        framing.decode(b'{"type":"log","level":"info","message":"\xff"}')


def test_every_message_type_of_the_model_is_in_the_schema() -> None:
    defs = schema.load()["$defs"]
    assert set(messages.PLUGIN_MESSAGES) | set(messages.HOST_MESSAGES) <= set(defs)
    for mtype, fields in {**messages.PLUGIN_MESSAGES, **messages.HOST_MESSAGES}.items():
        assert set(fields) == set(defs[mtype]["properties"]) - {"type"}, mtype
        required = {f for f, (_, req) in fields.items() if req}
        assert required == set(defs[mtype]["required"]) - {"type"}, mtype


def test_splitter_rules() -> None:
    s = framing.LineSplitter(max_line=8)
    assert s.feed(b"ab") == []
    assert s.feed(b"c\r\n\n\nde\n") == [b"abc", b"de"]
    assert s.feed(b"\xe2\x80\xa8x\n") == [b"\xe2\x80\xa8x"], "only \\n splits, not U+2028"
    assert s.feed(b"12345678\n") == [b"12345678"]
    with pytest.raises(ProtocolError, match="longer than 8 bytes"):
        s.feed(b"123456789")
    s2 = framing.LineSplitter(max_line=8)
    with pytest.raises(ProtocolError, match="longer than 8 bytes"):
        s2.feed(b"1234\n123456789\n")


def test_splitter_memory_is_bounded_without_newlines() -> None:
    s = framing.LineSplitter(max_line=1 << 20)
    with pytest.raises(ProtocolError):
        for _ in range(100):
            s.feed(b"{" * 65536)
    assert len(s.pending) <= 1 << 20


def test_encode_is_compact_utf8_one_line() -> None:
    line = framing.encode({"type": "output", "text": "caf\u00e9\nx"})
    assert line == '{"type":"output","text":"café\\nx"}\n'.encode()
    assert line.count(b"\n") == 1
    # argv bytes that are not UTF-8 (surrogate escapes) still make valid JSON
    line = framing.encode({"type": "run", "argv": ["\udcff"]})
    assert json.loads(line) == {"type": "run", "argv": ["\udcff"]}


def test_version_negotiation() -> None:
    from protocol import versions

    assert versions.parse_offer("1") == [1]
    assert versions.parse_offer("1, 2,x,") == [1, 2]
    # Only ASCII digits are versions: "²".isdigit() is true, and int("²") raises.
    assert versions.parse_offer("²") == []
    assert versions.parse_offer("1,²,١,9999999999") == [1]
    assert versions.choose([1, 2], [1]) == 1
    assert versions.choose([1, 2, 3], [2, 3, 4]) == 3
    assert versions.choose([2], [1]) is None
    assert versions.choose([], [1]) is None
