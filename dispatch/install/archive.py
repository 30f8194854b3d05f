"""Archives for `tool plugin install URL --sha256 HEX`: downloaded with the stdlib, checked
against the hash before anything is unpacked, and unpacked refusing whatever could write
outside the target directory or create something other than files, directories and links
that stay inside it."""
from __future__ import annotations

import hashlib
import os
import posixpath
import stat
import time

from dispatch.errors import ToolError
from dispatch.exitcodes import ExitCode
from protocol.digits import decimal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

MAX_DOWNLOAD = 1 << 30
DOWNLOAD_DEADLINE = 3600.0
MAX_UNPACKED = 4 << 30
MAX_MEMBERS = 100_000
MAX_HEADER = 16 << 20  # all headers of an archive beyond the basic ones: long names, pax records, a zip's directory
_FREE_PER_ENTRY = 1024  # a tar entry's own 512-byte header, and a small pax header before it


def download(url: str, dest: str, *, allow_http: bool, progress: Callable[[int, int | None], None] | None = None) -> str:
    """Fetch `url` into the new file `dest`; its sha256."""
    import urllib.error
    import urllib.request

    scheme = url.split(":", 1)[0].lower()
    if scheme not in ("https", "file") and not (scheme == "http" and allow_http):
        raise ToolError(ExitCode.USAGE, f"refusing to download {url}: only https:// (and file://) URLs are fetched "
                           "(--allow-http allows http://)")
    digest = hashlib.sha256()
    size = 0
    deadline = time.monotonic() + DOWNLOAD_DEADLINE  # a server trickling a byte a minute ends too
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            expected = decimal(response.headers.get("Content-Length") or "", 18)
            with open(dest, "xb") as out:
                while True:
                    chunk = response.read(1 << 16)
                    if not chunk:
                        break
                    size += len(chunk)
                    if time.monotonic() > deadline:
                        raise ToolError(ExitCode.FAILURE, f"{url} did not download within {DOWNLOAD_DEADLINE // 60:.0f} minutes; "
                                        "nothing was installed")
                    if size > MAX_DOWNLOAD:
                        raise ToolError(ExitCode.FAILURE, f"{url} is larger than {MAX_DOWNLOAD >> 20} MiB; refusing it")
                    digest.update(chunk)
                    out.write(chunk)
                    if progress is not None:
                        progress(size, expected)
    except urllib.error.HTTPError as e:
        raise ToolError(ExitCode.FAILURE, f"cannot download {url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise ToolError(ExitCode.FAILURE, f"cannot download {url}: {e.reason}; check the network and the URL") from None
    except (OSError, ValueError) as e:
        raise ToolError(ExitCode.FAILURE, f"cannot download {url}: {e}") from None
    return digest.hexdigest()


def unpack(path: str, dest: str) -> None:
    """Unpack the tar (plain, gzip, bzip2, xz) or zip archive at `path` into the empty
    directory `dest`. Refused, with nothing left half-done that matters (the caller discards
    `dest`): absolute paths, `..`, device files, FIFOs, links pointing outside, writing
    through a link, more than MAX_MEMBERS entries or MAX_UNPACKED bytes."""
    with open(path, "rb") as f:
        magic = f.read(6)
    try:
        if magic.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            _unzip(path, dest)
        else:
            _untar(path, dest, magic)
    except OSError as e:
        # Two entries of one name, a file where a directory is, a name the file system refuses ...
        raise ToolError(ExitCode.FAILURE, f"cannot unpack the archive: {e.strerror or e}"
                           + (f" ({os.path.relpath(e.filename, dest)})" if isinstance(e.filename, str) else "")) from None


def _checked(name: str, links: set[str]) -> str:
    """The member name, normalized, when it stays inside and does not pass through a link."""
    if not name or name.startswith("/") or "\\" in name or "\0" in name or (len(name) > 1 and name[1] == ":"):
        raise ToolError(ExitCode.FAILURE, f"unsafe archive: the entry {name!r} has an absolute path")
    norm = posixpath.normpath(name)
    parts = norm.split("/")
    if ".." in parts or norm.startswith("../") or norm == "..":
        raise ToolError(ExitCode.FAILURE, f"unsafe archive: the entry {name!r} points outside (..)")
    for i in range(1, len(parts)):
        if "/".join(parts[:i]) in links:
            raise ToolError(ExitCode.FAILURE, f"unsafe archive: the entry {name!r} is written through a link")
    return norm


def _link_ok(member: str, target: str) -> None:
    if not target or target.startswith("/") or "\0" in target:
        raise ToolError(ExitCode.FAILURE, f"unsafe archive: the link {member!r} points to an absolute path ({target!r})")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(member), target))
    if resolved == ".." or resolved.startswith("../"):
        raise ToolError(ExitCode.FAILURE, f"unsafe archive: the link {member!r} points outside the archive ({target!r})")


def _write(dest: str, name: str, source: object, mode: int, budget: list[int]) -> None:
    path = os.path.join(dest, name)
    os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as out:
        while True:
            chunk = source.read(1 << 16)  # type: ignore[attr-defined]
            if not chunk:
                break
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise ToolError(ExitCode.FAILURE, f"unsafe archive: it unpacks to more than {MAX_UNPACKED >> 30} GiB")
            out.write(chunk)
    # Only the permission bits people mean: never setuid, setgid or sticky.
    os.chmod(path, 0o700 if mode & 0o111 else 0o600)


class _Capped:
    """The decompressed tar stream, counting what tarfile reads for headers (everything but the
    members' data, which `data` marks) against MAX_HEADER for the whole archive: a long name, a
    pax record or a GNU sparse map is read whole into memory, so a small archive could
    otherwise fill it (120 pax paths of 4 MB: 1 GB)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.budget = MAX_HEADER
        self.free = 0
        self.data = False

    def read(self, n: int = -1) -> bytes:
        if not self.data:
            if n < 0:
                n = MAX_HEADER + 1
            use = max(0, n - self.free)
            self.free = max(0, self.free - n)
            self.budget -= use
            if self.budget < 0:
                raise ToolError(ExitCode.FAILURE, f"unsafe archive: its headers (long names, pax records) take more than "
                                f"{MAX_HEADER >> 20} MiB")
        data: bytes = self.raw.read(n)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        result: int = self.raw.seek(offset, whence)
        return result

    def tell(self) -> int:
        result: int = self.raw.tell()
        return result

    def seekable(self) -> bool:
        return True


def _decompressed(path: str, magic: bytes) -> Any:
    import bz2
    import gzip
    import lzma

    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rb")
    if magic.startswith(b"BZh"):
        return bz2.open(path, "rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(path, "rb")
    return open(path, "rb")


def _untar(path: str, dest: str, magic: bytes) -> None:
    import lzma
    import tarfile
    import zlib

    links: set[str] = set()
    budget = [MAX_UNPACKED]
    try:
        capped = _Capped(raw := _decompressed(path, magic))
        capped.free = _FREE_PER_ENTRY  # tarfile reads the first header as it opens
        with raw, tarfile.open(fileobj=capped, mode="r:") as tar:  # type: ignore[call-overload]
            count = 0
            while True:
                capped.free = _FREE_PER_ENTRY
                member = tar.next()
                if member is None:
                    break
                tar.members.clear()  # tarfile keeps every header it read: only the one in hand is needed
                count += 1
                if count > MAX_MEMBERS:
                    raise ToolError(ExitCode.FAILURE, f"unsafe archive: more than {MAX_MEMBERS} entries")
                name = _checked(member.name, links)
                if name == ".":
                    continue
                if member.isdir():
                    os.makedirs(os.path.join(dest, name), 0o700, exist_ok=True)
                elif member.isfile():
                    source = tar.extractfile(member)
                    assert source is not None
                    capped.data = True
                    try:
                        _write(dest, name, source, member.mode, budget)
                    finally:
                        capped.data = False
                elif member.issym():
                    _link_ok(name, member.linkname)
                    os.makedirs(os.path.dirname(os.path.join(dest, name)), 0o700, exist_ok=True)
                    os.symlink(member.linkname, os.path.join(dest, name))
                    links.add(name)
                elif member.islnk():
                    target = _checked(member.linkname, links)
                    if not os.path.isfile(os.path.join(dest, target)) or os.path.islink(os.path.join(dest, target)):
                        raise ToolError(ExitCode.FAILURE, f"unsafe archive: the hard link {name!r} does not point to a file in it")
                    with open(os.path.join(dest, target), "rb") as source_file:
                        _write(dest, name, source_file, os.stat(os.path.join(dest, target)).st_mode, budget)
                else:
                    kind = "device file" if member.ischr() or member.isblk() else "FIFO" if member.isfifo() else "special file"
                    raise ToolError(ExitCode.FAILURE, f"unsafe archive: the entry {name!r} is a {kind}")
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, ValueError) as e:
        raise ToolError(ExitCode.FAILURE, f"not a tar or zip archive: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def _unzip(path: str, dest: str) -> None:
    import zipfile

    links: set[str] = set()
    budget = [MAX_UNPACKED]
    _zip_directory_bounded(path)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            for info in infos:
                name = _checked(info.filename.rstrip("/") or ".", links)
                if name == ".":
                    continue
                mode = info.external_attr >> 16
                kind = stat.S_IFMT(mode)
                if info.is_dir() or kind == stat.S_IFDIR:
                    os.makedirs(os.path.join(dest, name), 0o700, exist_ok=True)
                elif kind == stat.S_IFLNK:
                    if info.file_size > 4096:
                        raise ToolError(ExitCode.FAILURE, f"unsafe archive: the link {name!r} is {info.file_size} bytes long")
                    target = archive.read(info).decode("utf-8", "surrogateescape")
                    _link_ok(name, target)
                    os.makedirs(os.path.dirname(os.path.join(dest, name)), 0o700, exist_ok=True)
                    os.symlink(target, os.path.join(dest, name))
                    links.add(name)
                elif kind in (0, stat.S_IFREG):
                    with archive.open(info) as source:
                        _write(dest, name, source, mode, budget)
                else:
                    raise ToolError(ExitCode.FAILURE, f"unsafe archive: the entry {name!r} is a special file")
    except zipfile.BadZipFile as e:
        raise ToolError(ExitCode.FAILURE, f"not a tar or zip archive: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def _zip_directory_bounded(path: str) -> None:
    """Refuse a zip whose central directory (read whole by zipfile, every entry an object) is
    larger than MAX_HEADER or has more than MAX_MEMBERS entries, counted in its bytes before
    zipfile parses it (the count in the end record may lie)."""
    import struct

    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        tail_at = max(0, size - (22 + 65535))
        f.seek(tail_at)
        tail = f.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) < at + 22:
            return  # not a zip end record: zipfile says what is wrong
        cd_size, = struct.unpack_from("<I", tail, at + 12)
        end = tail_at + at
        locator = at - 20
        if locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
            record_at, = struct.unpack_from("<Q", tail, locator + 8)
            f.seek(record_at)
            record = f.read(56)
            if len(record) == 56 and record[:4] == b"PK\x06\x06":
                cd_size, = struct.unpack_from("<Q", record, 40)
                end = record_at
        if cd_size > MAX_HEADER:
            raise ToolError(ExitCode.FAILURE, f"unsafe archive: its directory of entries takes more than {MAX_HEADER >> 20} MiB")
        f.seek(max(0, end - cd_size))
        directory = f.read(cd_size)
    count, i = 0, 0
    while i + 46 <= len(directory) and directory[i : i + 4] == b"PK\x01\x02":
        n, m, k = struct.unpack_from("<HHH", directory, i + 28)
        i += 46 + n + m + k
        count += 1
        if count > MAX_MEMBERS:
            raise ToolError(ExitCode.FAILURE, f"unsafe archive: more than {MAX_MEMBERS} entries")
