"""Protocol version negotiation: the host offers, the plugin picks the highest common version."""
from __future__ import annotations

from protocol.digits import decimal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

# The versions this code speaks, oldest first.
SUPPORTED: tuple[int, ...] = (1,)


def parse_offer(value: str | None) -> list[int]:
    """The versions in a TOOL_PROTOCOL value ("1" or "1,2"); unparseable items are skipped."""
    versions = []
    for item in (value or "").split(","):
        version = decimal(item.strip())
        if version is not None:
            versions.append(version)
    return versions


def format_offer(versions: Iterable[int]) -> str:
    return ",".join(str(v) for v in versions)


def choose(offered: Iterable[int], supported: Iterable[int] = SUPPORTED) -> int | None:
    """The highest version both sides speak, or None."""
    common = set(offered) & set(supported)
    return max(common) if common else None
