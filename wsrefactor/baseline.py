"""Findings baselines: record today's debt, then report only what is new.

A finding's fingerprint is its rule, its path relative to the project root, and its context —
the normalised source of the flagged statement and the enclosing function's name — never its line
number, so lines inserted above do not resurrect it. Fingerprints are counted, so a second copy of
a recorded statement is new. A fixed finding is simply absent from the next ``baseline`` run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TypedDict

from wsrefactor.model import Finding

VERSION = 1


class BaselineData(TypedDict):
    """A baseline file: its format version and fingerprint -> {code, path, message, count}."""

    version: int
    entries: dict[str, dict[str, object]]


class BaselineFileError(Exception):
    pass


def fingerprint(finding: Finding, root: str) -> str:
    try:
        rel = Path(finding.path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        rel = Path(finding.path).as_posix()
    digest = hashlib.sha256(f"{finding.code}\0{rel}\0{finding.context}".encode()).hexdigest()
    return digest[:24]


def build(findings: Iterable[Finding], root: str) -> BaselineData:
    counts: Counter[str] = Counter()
    described: dict[str, dict[str, object]] = {}
    for f in findings:
        key = fingerprint(f, root)
        counts[key] += 1
        described.setdefault(key, {"code": f.code, "path": os.path.relpath(f.path, root), "message": f.message})
    entries = {k: {**described[k], "count": counts[k]} for k in sorted(counts)}
    return {"version": VERSION, "entries": entries}


def save(path: str | Path, data: Mapping[str, object]) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=str(target.parent), prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: str | Path) -> Counter[str]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineFileError(f"{path}: baseline file not found") from None
    except (OSError, ValueError) as exc:
        raise BaselineFileError(f"{path}: not a readable baseline ({exc})") from None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("entries"), dict):
        raise BaselineFileError(f"{path}: not a wsrefactor findings baseline (version {VERSION})")
    return Counter({k: int(v.get("count", 1)) for k, v in data["entries"].items()})


def filter_new(findings: Iterable[Finding], known: Counter[str], root: str) -> list[Finding]:
    """Findings beyond those recorded: each recorded fingerprint absorbs that many findings."""
    left = Counter(known)
    out = []
    for f in findings:
        key = fingerprint(f, root)
        if left[key] > 0:
            left[key] -= 1
        else:
            out.append(f)
    return out
