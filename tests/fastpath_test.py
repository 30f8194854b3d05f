"""The host's fast path for `output` lines agrees with the JSON parser, or steps aside."""
from __future__ import annotations

import json
import random

from protocol.framing import OUTPUT_TEXT, output_run, plain_text_ok
from protocol.framing import unescape as _unescape

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
