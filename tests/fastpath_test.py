"""The host's fast path for `output` lines agrees with the JSON parser, or steps aside."""
from __future__ import annotations

import json
import random

from protocol.framing import OUTPUT_TEXT, output_run, plain_text_ok, record_run
from protocol.framing import unescape as _unescape
from tests.conftest import Env, raw_plugin

ALPHABET = ['a', 'Z', ' ', '"', '\\', '/', '\n', '\t', '\r', '\b', '\f', '\u00e9', '\u2028', '\U0001F600', '\x00', '\x1f', '}', '{']


def _body(line: bytes) -> bytes:
    assert line.startswith(OUTPUT_TEXT) and line.endswith(b'"}')
    return line[len(OUTPUT_TEXT):-2]


def test_fast_path_matches_the_parser_on_random_texts() -> None:
    rng = random.Random(7)
    taken = 0
    for _ in range(5000):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 12)))
        for ensure_ascii in (False, True):
            line = json.dumps({"type": "output", "text": text}, separators=(",", ":"), ensure_ascii=ensure_ascii).encode()
            fast = _unescape(_body(line))
            if fast is not None:
                taken += 1
                assert fast == text.encode("utf-8"), (line, fast)
    assert taken > 1000, "the fast path is actually used"


def test_fast_path_steps_aside_for_what_it_cannot_judge() -> None:
    assert _unescape(b'a\\u00e9') is None
    assert _unescape(b'a\\\\n') is None  # an escaped backslash
    assert _unescape(b'a","base64":"b') is None  # more fields, not a text
    assert _unescape(b'a\\') is None
    assert _unescape(b'a\\x') is None  # an invalid escape: the parser reports it
    assert _unescape(b'line\\n') == b"line\n"
    assert _unescape(b'say \\"hi\\"\\t\\/') == b'say "hi"\t/'


def test_a_run_of_output_lines_is_decoded_at_once_and_stops_where_the_parser_must_take_over() -> None:
    lines = [b'{"type":"output","text":"a\\n"}', b'{"type":"output","text":"b"}', b'{"type":"log","level":"info","message":"x"}']
    assert plain_text_ok(lines)
    assert output_run(lines, 0) == (b"a\nb", 2)
    assert output_run(lines, 2) == (None, 2)
    assert not plain_text_ok([b'{"type":"output","text":"\x01"}'])
    # Not one, though it starts and ends like one: the parser says what is wrong.
    assert output_run([b'{"type":"output","text":"}'], 0) == (None, 0)
    assert output_run([b'{"type":"output","text":"a\\"}', lines[0]], 0) == (None, 0)
    assert output_run([lines[0], b'{"type":"output","text":"a\\"}'], 0) == (b"a\n", 1)


def test_a_chunk_of_other_messages_costs_one_look_at_each_line() -> None:
    # 200,000 requests in one chunk, none an output or a record: every call fails at once.
    lines = [b'{"type":"request","id":%d,"method":"prompt","params":{"message":"x"}}' % i for i in range(200_000)]
    import time

    began = time.process_time()
    for i in range(len(lines)):
        assert output_run(lines, i) == (None, i) and record_run(lines, i) == (None, i)
    assert time.process_time() - began < 30  # a bound against a quadratic scan only (that took minutes)


def test_record_runs_pass_the_data_on_as_written_or_step_aside() -> None:
    from protocol.framing import loads, record_run

    good = [b'{"type":"record","data":{"a":1,"b":[true,null],"c":"x\\"}"}}', b'{"type":"record","data":{}}']
    rows, end = record_run(good, 0)
    assert (rows, end) == (b'{"a":1,"b":[true,null],"c":"x\\"}"}\n{}\n', 2)
    for text, data in zip(rows.splitlines(), ({"a": 1, "b": [True, None], "c": 'x"}'}, {})):
        assert loads(text.decode()) == data
    steps_aside = [
        b'{"type":"record","data":{"a":1},"extra":2}',  # a field after data: the parser's business
        b'{"type":"record","data":[1]}',  # not an object: the message check reports it
        b'{"type":"record","data":{"a":1}}}',  # extra text
        b'{"type":"record","data":{"a":\\ud800}}',
        b'{"type":"record","data":{"a":"\\ud800"}}',  # a lone surrogate would go out as it came
        b'{"type":"record","data":{"a":1e400}}',  # Infinity
        b'{"type":"record","data":{"a":NaN}}',
        b'{"type":"record", "data":{"a":1}}',  # not compact: the parser takes it
    ]
    for line in steps_aside:
        assert record_run([good[1], line], 0) == (b"{}\n", 1), line
        assert record_run([line], 0) == (None, 0), line


def test_a_record_run_ends_before_a_line_it_cannot_pass_on() -> None:
    from protocol.framing import record_run

    ok = b'{"type":"record","data":{"a":1}}'
    odd = b'{"type":"record","data":{"a":"\\udce9"}}'
    lines = [ok] * 3 + [odd] + [ok] * 2
    assert record_run(lines, 0) == (b'{"a":1}\n' * 3, 3)
    assert record_run(lines, 3) == (None, 3)
    assert record_run(lines, 4) == (b'{"a":1}\n' * 2, 6)


def test_records_through_the_fast_path_and_the_parser_look_the_same(tenv: Env) -> None:
    rows = [{"n": i, "s": "\u00e9\U0001F600 \"q\"", "f": 1.5, "l": [1, {"x": None}]} for i in range(50)]
    lines = [json.dumps({"type": "record", "data": r}, separators=(",", ":")) for r in rows]
    spaced = [json.dumps({"type": "record", "data": r}) for r in rows]  # not compact: every line parsed
    for name, stream in (("tool-fast", lines), ("tool-slow", spaced)):
        raw_plugin(tenv, name, ['{"type":"hello","protocol":1}', *stream])
    fast, slow = tenv.run("fast"), tenv.run("slow")
    assert fast.returncode == slow.returncode == 0
    assert [json.loads(x) for x in fast.stdout.splitlines()] == [json.loads(x) for x in slow.stdout.splitlines()] == rows


def test_the_read_input_response_is_what_encode_gives() -> None:
    import os

    from protocol.framing import encode, encode_input
    from protocol.messages import response

    for rid in (1, "r-\u00e9", 2**40):
        for data in (b"", b"x", os.urandom(1000)):
            import base64

            expected = encode(response(rid, {"base64": base64.b64encode(data).decode(), "eof": not data}))
            assert encode_input(rid, data) == expected
