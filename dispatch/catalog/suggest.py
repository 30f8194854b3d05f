"""Did you mean: the names closest to a mistyped command, the way git's help.c picks them."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

# git's weights: a swap is free-ish, substitutions cost 2, insertions 1, deletions 3.
_SWAP, _SUBSTITUTE, _INSERT, _DELETE = 0, 2, 1, 3
_SIMILAR_ENOUGH = 7


def distance(typed: str, name: str) -> int:
    """Weighted Damerau-Levenshtein (optimal string alignment) from `typed` to `name`."""
    prev2: list[int] = []
    prev = [j * _INSERT for j in range(len(name) + 1)]
    for i in range(1, len(typed) + 1):
        cur = [i * _DELETE] + [0] * len(name)
        for j in range(1, len(name) + 1):
            cost = prev[j - 1] + (_SUBSTITUTE if typed[i - 1] != name[j - 1] else 0)
            if (
                i > 1
                and j > 1
                and typed[i - 2] == name[j - 1]
                and typed[i - 1] == name[j - 2]
                and prev2[j - 2] + _SWAP < cost
            ):
                cost = prev2[j - 2] + _SWAP
            cost = min(cost, prev[j] + _DELETE, cur[j - 1] + _INSERT)
            cur[j] = cost
        prev2, prev = prev, cur
    return prev[len(name)]


def closest(typed: str, names: Iterable[str], limit: int = 5) -> list[str]:
    """The best-scoring names, when they are similar enough; [] otherwise.

    `typed` and the names are dash-joined command words; a name is compared
    with as many of the typed words as it has, so `tool foo bar` can suggest
    `foo-baz`. A name the typed word is a prefix of counts as very close.
    """
    if not typed:
        return []
    parts = typed.split("-")
    scored: dict[str, int] = {}
    for name in names:
        k = name.count("-") + 1
        typed_k = "-".join(parts[:k])
        if name.startswith(typed_k) and name != typed_k and len(typed_k) >= 2:
            score = 0
        else:
            score = distance(typed_k, name) + 1
        if name not in scored or score < scored[name]:
            scored[name] = score
    if not scored:
        return []
    best = min(scored.values())
    if best >= _SIMILAR_ENOUGH:
        return []
    return sorted(n for n, s in scored.items() if s == best)[:limit]
