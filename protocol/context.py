"""What the author's run function gets: one `Context` over two backends (protocol/backends.py).
Run by the host, the context talks the protocol; run directly, it is an ordinary command on
the terminal. The author's code is the same either way, and the same with an older host: a
feature the host does not have falls back to what it has (records as JSON lines, a confirm
as a prompt)."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from contextlib import AbstractContextManager
    from typing import Any, BinaryIO

    from protocol.backends import Host, Terminal
    from protocol.channel import Channel


class _Log:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def debug(self, message: str) -> None:
        self._ctx._backend.log("debug", message)

    def info(self, message: str) -> None:
        self._ctx._backend.log("info", message)

    def warning(self, message: str) -> None:
        self._ctx._backend.log("warning", message)

    def error(self, message: str) -> None:
        self._ctx._backend.log("error", message)


class Task:
    """A progress line of its own (`ctx.task(...)`): update it, end it with `done()` (or use it
    in a `with` block). Several can be shown at once."""

    def __init__(self, ctx: Context, key: str, message: str, total: float | None) -> None:
        self._ctx = ctx
        self.id = key
        self.message = message
        self.total = total
        self.current: float | None = None

    def update(self, current: float | None = None, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        if current is not None:
            self.current = current
        self._ctx._backend.progress(self.message, self.current, self.total, key=self.id)

    def done(self) -> None:
        self._ctx._backend.progress(self.message, self.current, self.total, key=self.id, done=True)

    def __enter__(self) -> Task:
        self.update()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done()


class CallResult:
    """What another command of the program gave back (`ctx.call(...)`)."""

    def __init__(self, answer: Mapping[str, Any]) -> None:
        self.exit: int = int(answer.get("exit", 1))
        if "output_base64" in answer:
            import binascii

            self.output: bytes = binascii.a2b_base64(answer["output_base64"])
        else:
            self.output = str(answer.get("output", "")).encode("utf-8", "surrogatepass")
        self.records: list[Any] = list(answer.get("records") or [])
        self.result: Any = answer.get("result")
        self.error: Mapping[str, Any] | None = answer.get("error")

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")


class Context:
    """What a run gets: its arguments, the user's settings, and the ways to talk to the user."""

    def __init__(self, run: Mapping[str, Any], channel: Channel | None = None, program: str = "tool") -> None:
        from protocol.backends import Host, Terminal

        self.args: list[str] = _args(run)
        self.interactive: bool = bool(run.get("interactive", False))
        self.output_mode: str = str(run.get("output", "text"))
        self.color: bool = bool(run.get("color", False))
        self.width: int = int(run.get("width", 80))
        self.verbosity: int = int(run.get("verbosity", 0))
        self.host: Mapping[str, Any] = run.get("host") or {}
        self.features: list[str] = [str(f) for f in run.get("features", [])]  # what the host has
        self.protocol: int | None = channel.version if channel is not None else None
        self.log = _Log(self)
        self._tasks = 0
        self._backend: Host | Terminal = (
            Host(channel, self.features, run.get("stdin_fd")) if channel is not None else Terminal(self.verbosity, self.width, program)
        )

    @property
    def cancelled(self) -> bool:
        """True once the host asked the plugin to stop; long loops should check it."""
        return self._backend.cancelled

    def output(self, data: str | bytes) -> None:
        """Text or bytes for the user's stdout, verbatim."""
        self._backend.output(data)

    def record(self, data: Mapping[str, Any]) -> None:
        """One structured row (a JSON object): a table row on a terminal, a JSON line in a pipe,
        a `record` message under --json. Send as many as you like, as they come."""
        self._backend.record(dict(data))

    def progress(self, message: str = "", current: float | None = None, total: float | None = None) -> None:
        """The run's live progress line (shown by the host on a terminal only)."""
        self._backend.progress(message, current, total)

    def task(self, message: str = "", total: float | None = None) -> Task:
        """A progress line of its own, among others: `with ctx.task("copy", total=n) as t: t.update(i)`."""
        self._tasks += 1
        return Task(self, f"task-{self._tasks}", message, total)

    def prompt(self, message: str, *, default: str | None = None, secret: bool = False) -> str:
        """Ask the user; raises InteractionUnavailable without a terminal or with --no-input."""
        params: dict[str, Any] = {"message": message, "secret": secret}
        if default is not None:
            params["default"] = default
        return str(self._backend.ask("prompt", params))

    def confirm(self, message: str, *, default: bool | None = None) -> bool:
        """A yes/no question; raises InteractionUnavailable when nobody can answer."""
        params: dict[str, Any] = {"message": message}
        if default is not None:
            params["default"] = default
        return bool(self._backend.ask("confirm", params))

    def choose(self, message: str, choices: Sequence[str], *, default: str | None = None) -> str:
        """One of `choices`; raises InteractionUnavailable when nobody can answer."""
        params: dict[str, Any] = {"message": message, "choices": list(choices)}
        if default is not None:
            params["default"] = default
        return str(self._backend.ask("choose", params))

    def read_input(self, max_bytes: int = 65536) -> bytes:
        """Up to max_bytes of the user's stdin; b"" at end of input (small or interactive input)."""
        return self._backend.read_input(max_bytes)

    @property
    def stdin(self) -> BinaryIO:
        """The user's stdin as a binary file, at full speed when the host hands it over
        (`stdin_fd`), else read through `read_input`."""
        return self._backend.stdin()

    def call(self, *argv: str) -> CallResult:
        """Run another command of the same program (`ctx.call("list", "--json")`) and get its
        output, records, result and exit status: the way to compose plugins."""
        return CallResult(self._backend.call(list(argv)))

    def terminal(self) -> AbstractContextManager[None]:
        """The user's terminal for the `with` block (to run $EDITOR, a pager, ...): stdin and
        stdout are the terminal meanwhile. Raises InteractionUnavailable without one."""
        return self._backend.terminal()


def backend(ctx: Context) -> Host | Terminal:
    """For the SDK's lifecycle (protocol/plugin.py): where the context's results and errors go."""
    return ctx._backend


def _args(run: Mapping[str, Any]) -> list[str]:
    """The arguments, with those that were not UTF-8 as surrogate escapes of their exact bytes
    (as Python's own sys.argv has them)."""
    args = [str(a) for a in run.get("argv", [])]
    raw = run.get("argv_raw")
    if isinstance(raw, list) and len(raw) == len(args):
        import binascii

        for i, exact in enumerate(raw):
            if isinstance(exact, str):
                args[i] = binascii.a2b_base64(exact).decode("utf-8", "surrogateescape")
    return args
