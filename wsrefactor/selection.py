"""Which rules run: ``select``/``ignore`` by code or prefix, the most specific entry winning."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_BANDIT_CODE = re.compile(r"^B\d{3}$")


def _best(code: str, prefixes: Iterable[str]) -> int:
    """Length of the longest prefix matching ``code`` (-1 when none); ``ALL`` matches weakly."""
    best = -1
    for p in prefixes:
        if p == "ALL":
            best = max(best, 0)
        elif code.startswith(p):
            best = max(best, len(p))
    return best


@dataclass(frozen=True)
class Selection:
    select: tuple[str, ...]
    ignore: tuple[str, ...] = ()
    known_codes: tuple[str, ...] = ()

    def enabled(self, code: str) -> bool:
        s = _best(code, self.select)
        return s >= 0 and s > _best(code, self.ignore)

    def explicit(self, code: str) -> bool:
        """Selected by its full code: enough to allow that rule's unsafe fixes."""
        return code in self.select and self.enabled(code)

    def known(self, code: str) -> bool:
        return code in self.known_codes or bool(_BANDIT_CODE.match(code))

    @property
    def bandit(self) -> bool:
        """Bandit runs when any B code could be enabled."""
        candidates = {"B101"} | {p for p in self.select if p.startswith("B")}
        probes = [c if _BANDIT_CODE.match(c) else "B101" for c in candidates]
        return any(self.enabled(c) for c in probes) or any(
            self.enabled(f"B{n}") for n in (101, 102, 301, 501, 601, 701)
        )

    @classmethod
    def build(cls, select: Sequence[str], ignore: Sequence[str], known: Iterable[str]) -> Selection:
        return cls(tuple(select), tuple(ignore), tuple(sorted(known)))
