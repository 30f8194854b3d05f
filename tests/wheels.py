"""Wheels written by the tests: a wheel is a zip with a .dist-info; no build backend needed."""
from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wheel(directory: Path, name: str, version: str, files: dict[str, str], *, scripts: dict[str, str] | None = None,
          requires: tuple[str, ...] = ()) -> Path:
    """Write `name-version-py3-none-any.whl` into `directory`: `files` (path -> text), console
    `scripts` (name -> "module:function"), `requires` (Requires-Dist lines)."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    contents = dict(files)
    contents[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(f"Requires-Dist: {r}\n" for r in requires)
    )
    contents[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    if scripts:
        contents[f"{info}/entry_points.txt"] = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items())
    record = []
    for path, text in contents.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    contents[f"{info}/RECORD"] = "\n".join(record) + "\n"
    path = directory / f"{dist}-{version}-py3-none-any.whl"
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        for name_in_zip, text in contents.items():
            z.writestr(name_in_zip, text)
    return path


def sdk_wheel(directory: Path, version: str = "0.1.0") -> Path:
    """The SDK (this project's `protocol` package) as a wheel, for plugins that depend on it."""
    files = {f"protocol/{p.relative_to(ROOT / 'protocol')}": p.read_text() for p in (ROOT / "protocol").rglob("*")
             if p.is_file() and p.suffix in (".py", ".json")}
    return wheel(directory, "tool-dispatch", version, files)
