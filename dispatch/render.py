"""What the user sees of a session: plugin events as text for people, or JSON lines for scripts.

Text mode: `output` bytes verbatim to stdout, logs to stderr filtered by
verbosity, progress as one live line on a terminal's stderr, the result on
stdout. JSON mode (`--json`): stdout carries only JSON lines, `output`,
`result` and `error` messages as the plugin sent them, a plain plugin's
bytes wrapped as `output`, and a final `{"type":"exit","code":N}`.
"""
from __future__ import annotations

import os

from protocol.framing import dumps
from protocol.messages import LOG_LEVELS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping



def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


_VISIBLE: dict[int, str] | None = None


def _visible_table() -> dict[int, str]:
    table = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
    table.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x1B: "\\e"})
    # Bidirectional controls (they reorder what follows: "Trojan Source"), line and
    # paragraph separators, and lone surrogates (never valid text).
    for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029, *range(0xD800, 0xE000)):
        table[c] = f"\\u{c:04x}"
    return table


def visible(text: str, *, multiline: bool = False) -> str:
    """Text from a plugin or from disk, safe to show on a terminal.

    Control characters (C0, DEL, C1: so every escape sequence, ESC being one),
    bidirectional overrides, line separators and lone surrogates are shown as
    visible escapes (`\\e[2J`, `\\u202e`), never sent raw. `multiline` keeps
    newlines and tabs (a log message of several lines). A plugin's `output`
    bytes never pass through here: they are the user's data, verbatim.
    """
    if text.isprintable():
        return text
    global _VISIBLE
    if _VISIBLE is None:
        _VISIBLE = _visible_table()
    if multiline:
        return "\n".join("\t".join(part.translate(_VISIBLE) for part in line.split("\t")) for line in text.split("\n"))
    return text.translate(_VISIBLE)


def to_utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates from a \\udXXX escape: shown as U+FFFD (documented tolerance).
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace").encode("utf-8")


class Renderer:
    def __init__(
        self,
        prog: str,
        verbosity: int,
        json_mode: bool,
        stderr_tty: bool,
        label: str = "",
        max_output: int | None = None,
        dumb_terminal: bool = False,
    ) -> None:
        self.prog = prog
        self.max_output = max_output
        self.written = 0
        self.broken = False  # our stdout was closed by its reader
        self.limit_hit = False  # --max-output reached
        self.label = label or prog  # "tool greet", to say whose error it is
        self.any_output = False
        self.verbosity = verbosity
        self.json_mode = json_mode
        self.progress_enabled = stderr_tty and verbosity >= 0 and not dumb_terminal
        self._progress_shown = False
        self._progress_at = 0.0
        self._out: list[bytes] = []
        self._partial = b""  # an incomplete UTF-8 sequence at the end of plain output (JSON mode)

    # -- stdout, buffered per chunk of input ------------------------------------
    def flush(self) -> None:
        if not self._out:
            return
        data = b"".join(self._out)
        self._out.clear()
        if self.broken or self.limit_hit:
            return
        if self.max_output is not None and self.written + len(data) > self.max_output:
            data = data[: self.max_output - self.written]
            if self.json_mode:
                data = data[: data.rfind(b"\n") + 1]  # whole JSON lines only
            self.limit_hit = True
        self._clear_progress()
        try:
            write_all(1, data)
        except BrokenPipeError:
            self.broken = True
        except OSError as e:
            import errno

            if e.errno not in (errno.EPIPE, errno.EBADF):
                raise
            self.broken = True
        self.written += len(data)

    def _json_line(self, obj: Mapping[str, object]) -> None:
        self._out.append(to_utf8(dumps(obj)) + b"\n")

    def plain(self, data: bytes) -> None:
        """Bytes from a plugin that does not speak the protocol."""
        if not self.json_mode:
            self._out.append(data)
            return
        data = self._partial + data
        self._partial = b""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            if e.reason == "unexpected end of data" and len(data) - e.start < 4:
                self._partial = data[e.start :]
                if e.start == 0:
                    return
                data = data[: e.start]
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    self._base64(data)
                    return
            else:
                self._base64(data)
                return
        self._json_line({"type": "output", "text": text})

    def _base64(self, data: bytes) -> None:
        import binascii  # only for bytes that are not UTF-8: a C module that costs a millisecond to load

        self._json_line({"type": "output", "base64": binascii.b2a_base64(data, newline=False).decode("ascii")})

    def end_plain(self) -> None:
        if self._partial:
            partial, self._partial = self._partial, b""
            self._base64(partial)

    def output_run(self, data: bytes, lines: list[bytes]) -> None:
        """`output` messages (their lines, and the bytes they carry, already decoded once)."""
        self.any_output = True
        if self.json_mode:
            self._out.append(b"\n".join(lines) + b"\n")
        else:
            self._out.append(data)

    def result(self, msg: Mapping[str, object], line: bytes) -> None:
        if self.json_mode:
            self._out.append(line + b"\n")
            return
        data = msg.get("data")
        if data is None or self.any_output:
            # A plugin that already wrote text for people returns the result for scripts (--json).
            return
        if isinstance(data, str):
            text = data if data.endswith("\n") else data + "\n"
        else:
            import json  # only here: people reading a result

            text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        self._out.append(to_utf8(text))

    def error(self, msg: Mapping[str, object], line: bytes) -> None:
        if self.json_mode:
            self._out.append(line + b"\n")
            self.flush()
        text = f"{self.label}: error: {visible(str(msg['message']), multiline=True)}\n"
        if msg.get("hint"):
            text += f"{self.label}: hint: {visible(str(msg['hint']), multiline=True)}\n"
        self.stderr(text)

    def exit(self, code: int) -> None:
        if self.json_mode:
            self.end_plain()
            # The envelope always ends with its exit line, limit or not.
            self.limit_hit = False
            self.max_output = None
            self._json_line({"type": "exit", "code": code})
        self.flush()
        self._clear_progress()

    def host_error(self, code: str, message: str, exit_code: int) -> None:
        """A failure of the host itself, in JSON mode: an error line and the exit line."""
        self.limit_hit = False
        self.max_output = None
        self._json_line({"type": "error", "code": code, "message": message})
        self.exit(exit_code)

    # -- stderr -------------------------------------------------------------------
    def stderr(self, text: str) -> None:
        self.flush()
        self._clear_progress()
        try:
            write_all(2, to_utf8(text))
        except OSError:
            pass  # nobody is reading our stderr: nothing better to do

    def log(self, level: str, message: str) -> None:
        threshold = LOG_LEVELS.get(level, 0)
        if self.verbosity < threshold:
            return
        prefix = "" if level == "info" or level not in LOG_LEVELS else f"{level}: "
        message = visible(message, multiline=True)
        self.stderr(prefix + message + ("" if message.endswith("\n") else "\n"))

    def debug(self, message: str) -> None:
        if self.verbosity >= 2:
            self.stderr(f"{self.prog}: {message}\n")

    def progress(self, msg: Mapping[str, object]) -> None:
        if not self.progress_enabled:
            return
        import time

        now = time.monotonic()
        done = msg.get("current") is not None and msg.get("current") == msg.get("total")
        if now - self._progress_at < 0.05 and not done:
            return  # a terminal needs no more than 20 updates a second
        self._progress_at = now
        self.flush()
        text = visible(str(msg.get("message") or ""))
        current, total = msg.get("current"), msg.get("total")
        if current is not None and total:
            text += f" {_num(current)}/{_num(total)}{_percent(current, total)}"
        elif current is not None:
            text += f" {_num(current)}"
        width = _width()
        try:
            write_all(2, b"\r\x1b[2K" + to_utf8(text[: width - 1]))
        except OSError:
            return
        self._progress_shown = True

    def _clear_progress(self) -> None:
        if self._progress_shown:
            self._progress_shown = False
            try:
                write_all(2, b"\r\x1b[2K")
            except OSError:
                pass


def _num(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() and abs(value) < 1e15 else f"{value:g}"
    return str(value)


def _percent(current: object, total: object) -> str:
    """" (42%)" for numbers that make sense (any size, without overflow), else nothing."""
    try:
        ratio = float(current) / float(total)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return ""
    if not 0 <= ratio <= 1e6:
        return ""
    return f" ({int(100 * ratio)}%)"


def _width() -> int:
    for fd in (2, 1):
        try:
            return os.get_terminal_size(fd).columns
        except OSError:
            continue
    return 80


def terminal_width(env: Mapping[str, str]) -> int:
    for fd in (1, 2):
        try:
            return os.get_terminal_size(fd).columns
        except OSError:
            continue
    columns = env.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else 80


def decode_base64(value: str) -> bytes:
    """Strict base64 (standard alphabet, padding required); raises ValueError."""
    import binascii

    try:
        return binascii.a2b_base64(value.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError) as e:
        raise ValueError(f"invalid base64: {e}") from None
