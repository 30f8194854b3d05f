"""What the user sees of a session: plugin events as text for people, or JSON lines for scripts.

Text mode: `output` bytes verbatim to stdout, logs to stderr filtered by
verbosity, progress as live lines on a terminal's stderr (dispatch/progress.py),
records as a table on a terminal (dispatch/table.py) or JSON lines, the result
on stdout. JSON mode (`--json`): stdout carries only JSON lines, `output`,
`result` and `error` messages as the plugin sent them, a plain plugin's
bytes wrapped as `output`, and a final `{"type":"exit","code":N}`.
"""
from __future__ import annotations

from dispatch.screen.text import to_utf8, visible, write_all

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from dispatch.screen.progress import Progress
    from dispatch.screen.table import Table



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
        stdout_tty: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.env: Mapping[str, str] = env or {}
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
        self._progress: Progress | None = None  # live lines on a terminal's stderr
        self.records_tty = stdout_tty  # records as a table (else JSON lines)
        self._table: Table | None = None
        self._out: list[bytes] = []
        self._partial = b""  # an incomplete UTF-8 sequence at the end of plain output (JSON mode)

    # -- stdout, buffered per chunk of input ------------------------------------
    def flush(self, *, settle: bool = False) -> None:
        """Write what is buffered for stdout (and the table rows held back, when due or when
        `settle`: before anything written to stderr, so that the order is the plugin's)."""
        self._settle_table(force=settle)
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
        shared = self.records_tty and self._progress is not None and self._progress.shown
        if shared:
            self._progress.clear()  # type: ignore[union-attr]  # stdout and stderr on one terminal
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
        if shared:
            self._progress.draw()  # type: ignore[union-attr]

    def _json_line(self, obj: Mapping[str, object]) -> None:
        from protocol.framing import dumps  # a plugin watched for --timeout never needs JSON

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
        self._settle_table(force=True)
        self.any_output = True
        if self.json_mode:
            self._out.append(b"\n".join(lines) + b"\n")
        else:
            self._out.append(data)

    def record(self, data: Mapping[str, object], line: bytes) -> None:
        """A structured row: passed on as the message under --json, one JSON object per line
        into a pipe (scripts get each as it comes), an aligned table on a terminal."""
        self.any_output = True
        if self.json_mode:
            self._out.append(line + b"\n")
        elif not self.records_tty:
            from protocol.framing import dumps

            self._out.append(to_utf8(dumps(data)) + b"\n")
        else:
            if self._table is None:
                from dispatch.screen.table import Table
                from protocol.width import columns

                self._table = Table(columns((1, 2), self.env))
            self._out.append(to_utf8(self._table.add(data)))

    @property
    def stopped(self) -> bool:
        """Nothing more reaches the user's stdout: its reader went away, or --max-output was reached."""
        return self.broken or self.limit_hit

    @property
    def records_passed_on(self) -> bool:
        """Records go out as JSON text (a pipe, or --json), not as a table."""
        return self.json_mode or not self.records_tty

    def record_run(self, rows: bytes, lines: list[bytes]) -> None:
        """`record` messages (their lines, and the JSON lines of their data, checked once), when
        records_passed_on."""
        self.any_output = True
        self._out.append(b"\n".join(lines) + b"\n" if self.json_mode else rows)

    def _settle_table(self, *, force: bool) -> None:
        """Rows held back to size the table's columns go out: when held long enough, or before
        anything else is written (force)."""
        if self._table is not None and self._table.sample and (force or self._table.due_in() == 0.0):
            self._out.append(to_utf8(self._table.settle()))

    def result(self, msg: Mapping[str, object], line: bytes) -> None:
        if self.json_mode:
            self._out.append(line + b"\n")
            return
        data = msg.get("data")
        if data is None or self.any_output:
            # A plugin that already wrote text for people returns the result for scripts (--json).
            return
        if isinstance(data, str):
            # Text the plugin supplied for people, not its output bytes: escaped like a log.
            text = visible(data if data.endswith("\n") else data + "\n", multiline=True)
        else:
            import json  # only here: people reading a result

            text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        self._out.append(to_utf8(visible(text, multiline=True)))  # text from the plugin: escapes made visible

    def error(self, msg: Mapping[str, object], line: bytes) -> None:
        if self.json_mode:
            self._out.append(line + b"\n")
            self.flush()
        text = f"{self.label}: error: {visible(str(msg['message']), multiline=True)}\n"
        if msg.get("hint"):
            text += f"{self.label}: hint: {visible(str(msg['hint']), multiline=True)}\n"
        self.stderr(text)

    def exit(self, code: int) -> None:
        self._settle_table(force=True)
        if self.json_mode:
            self.end_plain()
            # The envelope always ends with its exit line, limit or not.
            self.limit_hit = False
            self.max_output = None
            self._json_line({"type": "exit", "code": code})
        self.flush()
        if self._progress is not None:
            self._progress.close()

    def host_error(self, code: str, message: str, exit_code: int) -> None:
        """A failure of the host itself, in JSON mode: an error line and the exit line."""
        self.limit_hit = False
        self.max_output = None
        self._json_line({"type": "error", "code": code, "message": message})
        self.exit(exit_code)

    # -- stderr -------------------------------------------------------------------
    def stderr(self, text: str, *, redraw: bool = True) -> None:
        """A line of the host's on stderr (a log, an error, a question): what the plugin sent
        before it goes out first, progress is taken off the screen and drawn again after it
        (`redraw`: False while a question waits on that line)."""
        self.flush(settle=True)
        self.clear_progress()
        try:
            write_all(2, to_utf8(text))
        except OSError:
            pass  # nobody is reading our stderr: nothing better to do
        if redraw:
            self.redraw_progress()

    def ask(self, text: str, fd: int) -> None:
        """A question (or what follows its answer) on the terminal behind `fd`: after what the
        plugin sent before it; progress off the screen until it is answered."""
        self.flush(settle=True)
        self.clear_progress()
        try:
            write_all(fd, to_utf8(text))
        except OSError:
            pass

    def plugin_stderr(self, data: bytes) -> None:
        """Bytes the plugin wrote to its stderr, relayed as they are: after what it sent before
        them, with progress off the screen meanwhile. Progress stays off while the plugin's last
        line is not finished (a prompt of a child, say): drawn there, it would break that line."""
        self.flush(settle=True)
        self.clear_progress()
        try:
            write_all(2, data)
        except OSError:
            pass
        open_line = not data.endswith(b"\n")
        if self._progress is not None:
            self._progress.held = open_line
            if not open_line:
                self.redraw_progress()

    def log(self, level: str, message: str) -> None:
        from protocol.messages import LOG_LEVELS  # loaded by then: logs come from protocol plugins

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
        self.flush(settle=True)
        if self._progress is None:
            from dispatch.screen.progress import Progress

            self._progress = Progress(self.env)
        self._progress.update(msg)

    def wake_in(self) -> float | None:
        """Seconds until something held back is due on the screen (table rows kept to size the
        columns, a progress redraw skipped); None when nothing is. The session's loop wakes for it."""
        table = self._table.due_in() if self._table is not None else None
        progress = self._progress.due_in() if self._progress is not None else None
        if table is None or progress is None:
            return progress if table is None else table
        return min(table, progress)

    def tick(self) -> None:
        """Write what is due (see wake_in)."""
        if self._table is not None and self._table.sample:
            self.flush()
        if self._progress is not None and self._progress.behind:
            self._progress.tick()

    def clear_progress(self) -> None:
        """Progress off the screen (before the host stops, or the terminal is handed over)."""
        if self._progress is not None:
            self._progress.clear()

    def redraw_progress(self) -> None:
        """Progress back on the screen (after a line was written, or the host is in the
        foreground again)."""
        if self._progress is not None and self._progress.lines:
            self._progress.draw()


def decode_base64(value: str) -> bytes:
    """Strict base64 (standard alphabet, padding required); raises ValueError."""
    import binascii

    try:
        return binascii.a2b_base64(value.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError) as e:
        raise ValueError(f"invalid base64: {e}") from None
