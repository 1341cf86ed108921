"""The complexity gate: thresholds, per-path overrides, a ratcheting baseline.

This module is pure (no CLI, no file discovery): it takes the
:class:`~wsrefactor.complexity.Block` records produced by
:func:`wsrefactor.complexity.measure` and decides pass/fail, so the rules can
be tested without spawning processes and reused by other front ends.

What is checked
---------------
Only ``function`` and ``method`` blocks (closures included).  Class blocks
travel along in :attr:`GateResult.blocks` for display but are never gated:
radon's class complexity is an average of its methods, which are checked one
by one anyway.

* ``cc``: radon's cyclomatic complexity must be ``<= max_cc``.
* ``length``: the real span, ``def`` line to last line (``endline - lineno + 1``, see
  :func:`wsrefactor.complexity.span`), must be ``<= max_lines``.
* ``average``: the mean CC of all checked blocks must be ``<= max_average``.
  ``max_average`` is a number or a rank letter, converted like xenon's ``-a``
  to the upper bound of that radon rank: A=5, B=10, C=20, D=30, E=40, F=no limit.

A threshold of ``None`` disables that check.

Per-path overrides
------------------
``(glob, max_cc, max_lines)`` triples matched against the project-relative,
``/``-separated path with the gitignore-style globs every other setting uses
(``exclude``, ``per-file-ignores``; :func:`wsrefactor.discovery.glob_matcher`):
``*`` stays inside one directory, ``**`` crosses any number (zero included),
a pattern without a ``/`` (``generated_*.py``) matches at any depth, a
trailing ``/`` (``tests/``) means the directory and everything below, and
``!pattern`` re-includes.  Overrides cascade per field: for each of
``max_cc``/``max_lines`` the *last* matching override that sets it (not
``None``) wins; ``None`` inherits from earlier matches or the global value.

A function over both limits is one offender with two reasons: text, SARIF,
GitHub and JUnit output list it once (:attr:`GateResult.offenders`).

Baseline and ratchet
--------------------
A baseline records the functions that were over a threshold when it was
taken, so a legacy code base can adopt the gate without fixing everything
first.  A recorded function may stay over its threshold but must not get
worse (its cc and length may not exceed the recorded numbers).  Every other
function must meet the thresholds.  Improvements are always allowed;
:func:`update_baseline` then rewrites the file with the new, lower numbers and
drops functions that are no longer offending, but refuses (returns errors) if
anything got worse, so a regression can never be laundered into the baseline.

Keys do not contain line numbers, so they survive code moving around: a
function is identified by (project-relative path, radon's qualified name).
When the same qualified name occurs several times in one file (redefinitions,
``@overload``, same closure name in two methods) the occurrences are told
apart by order of appearance: the first is ``name``, the next ``name#2``, ...

Baseline file format (JSON, ``sort_keys``, 2-space indent, trailing newline)::

    {
      "entries": {
        "pkg/server.py": {
          "Server.handle": {"cc": 14, "length": 73},
          "handle#2": {"cc": 12, "length": 20}
        }
      },
      "version": 1
    }

JSON result schema (:func:`to_json`, ``"version": 1``)
------------------------------------------------------
Top level:

* ``version`` (int, 1) - schema version of this document.
* ``passed`` (bool) - true when ``violations`` is empty.
* ``checked`` (int) - number of function/method blocks checked.
* ``violation_count`` (int) - ``len(violations)``.
* ``average`` (float) - mean CC over checked blocks (0.0 if none).
* ``average_rank`` (str) - radon rank letter of ``average``.
* ``thresholds`` (object) - ``max_cc`` (int|null), ``max_lines`` (int|null),
  ``max_average`` (float|null; null also for rank F = unlimited).
* ``baseline`` (object) - ``used`` (bool), ``allowed`` (int: functions over a
  threshold but tolerated by the baseline), ``outdated`` (list of
  ``"path::key"`` strings whose entry :func:`update_baseline` would change or
  drop, sorted).
* ``functions`` (list, worst first): each offending function once, with the
  block fields below, ``message`` (its reasons joined by ``"; "``) and
  ``reasons`` (its violations: ``metric``, ``value``, ``limit``, ``excess``,
  ``source``, ``message``; ``cc`` before ``length``).
* ``violations`` (list, worst first), one per broken limit, of objects with:
  ``metric`` ("cc"|"length"|"average"), ``value`` (int; float for average),
  ``limit`` (int; float for average), ``excess`` (value - limit),
  ``source`` ("threshold"|"baseline"), ``message`` (e.g. "cc 14 > 10",
  "cc 14 > baseline 12", "average cc 7.12 > 5"), and the block fields
  ``path``, ``name``, ``key`` (baseline key), ``kind``, ``lineno``,
  ``endline``, ``col``, ``complexity``, ``rank``, ``length`` - all null for
  the ``average`` violation, which always comes last.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, TypeGuard, Union

from radon.complexity import cc_rank

from wsrefactor.complexity import Block

__all__ = [
    "BASELINE_VERSION",
    "JSON_SCHEMA_VERSION",
    "RANK_UPPER_BOUNDS",
    "BaselineError",
    "BaselineUpdate",
    "GateError",
    "GateResult",
    "GateSettings",
    "Offender",
    "PathOverride",
    "Violation",
    "baseline_keys",
    "dump_baseline",
    "evaluate",
    "glob_match",
    "group_offenders",
    "load_baseline",
    "make_baseline",
    "parse_max_average",
    "render_text",
    "save_baseline",
    "to_json",
    "update_baseline",
]

BASELINE_VERSION = 1
JSON_SCHEMA_VERSION = 1

#: Upper CC bound of each radon rank (see :func:`radon.complexity.cc_rank`).
#: A mean above the bound of a letter has a worse rank than that letter.
RANK_UPPER_BOUNDS: dict[str, float] = {
    "A": 5.0,
    "B": 10.0,
    "C": 20.0,
    "D": 30.0,
    "E": 40.0,
    "F": math.inf,
}

Metric = Literal["cc", "length", "average"]
Source = Literal["threshold", "baseline"]


class GateError(ValueError):
    """Invalid gate settings (bad threshold, bad override...)."""


class BaselineError(ValueError):
    """A baseline file or dict is malformed or of an unsupported version."""


# --------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------


def _check_limit(value: Any, what: str) -> int | None:
    """Validate an integer threshold (None = check disabled)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise GateError(f"{what} must be a non-negative integer or None, got {value!r}")
    return value


def parse_max_average(value: float | int | str | None) -> float | None:
    """Turn a number or a rank letter into an average-CC limit.

    Letters map to the upper bound of that radon rank (like xenon ``-a``):
    ``"B"`` -> 10.0, so an average is accepted while its rank is B or better.
    Numeric strings (from a CLI flag) are accepted too.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise GateError(f"max_average must be a number or a rank letter, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if text.upper() in RANK_UPPER_BOUNDS:
            return RANK_UPPER_BOUNDS[text.upper()]
        try:
            number = float(text)
        except ValueError:
            raise GateError(
                f"max_average must be a number or a rank letter A-F, got {value!r}"
            ) from None
    elif isinstance(value, (int, float)):
        number = float(value)
    else:
        raise GateError(f"max_average must be a number or a rank letter, got {value!r}")
    if math.isnan(number) or number < 0:
        raise GateError(f"max_average must be >= 0, got {value!r}")
    return number


@lru_cache(maxsize=8192)
def _project_relpath(path: str, root: str | None) -> str:
    """``Settings.relpath``, computed once per path (it is asked for every block of a file)."""
    if root and os.path.isabs(path):
        rel = os.path.relpath(path, root)
        if rel != ".." and not rel.startswith(".." + os.sep):
            path = rel
    return _normalize_path(path)


def _normalize_path(path: str) -> str:
    """``/``-separated, without a leading ``./``: the form globs and keys use."""
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


@lru_cache(maxsize=512)
def _glob_spec(pattern: str) -> Any:
    from wsrefactor.discovery import glob_matcher

    return glob_matcher([pattern.replace("\\", "/").strip()])


def glob_match(path: str, pattern: str) -> bool:
    """Gitignore-style (case-sensitive) match of a project-relative path, like ``exclude``."""
    return bool(_glob_spec(pattern).match_file(_normalize_path(path)))


@dataclass(frozen=True)
class PathOverride:
    """Thresholds for files matching ``glob``; ``None`` fields inherit."""

    glob: str
    max_cc: int | None = None
    max_lines: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.glob, str) or not self.glob.strip():
            raise GateError(f"override glob must be a non-empty string, got {self.glob!r}")
        _check_limit(self.max_cc, f"max_cc for {self.glob!r}")
        _check_limit(self.max_lines, f"max_lines for {self.glob!r}")

    def matches(self, relpath: str) -> bool:
        """Does this override apply to the project-relative ``relpath``?"""
        return glob_match(relpath, self.glob)


OverrideSpec = Union[PathOverride, Sequence[Any], Mapping[str, Any]]


def _to_override(spec: OverrideSpec) -> PathOverride:
    """Accept a PathOverride, a (glob, max_cc, max_lines) tuple or a mapping."""
    if isinstance(spec, PathOverride):
        return spec
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"glob", "max_cc", "max_lines"}
        if unknown or "glob" not in spec:
            raise GateError(
                f"override needs 'glob' and optional 'max_cc'/'max_lines', got {dict(spec)!r}"
            )
        return PathOverride(spec["glob"], spec.get("max_cc"), spec.get("max_lines"))
    if isinstance(spec, Sequence) and not isinstance(spec, str) and 1 <= len(spec) <= 3:
        return PathOverride(*spec)
    raise GateError(f"override must be (glob, max_cc, max_lines), got {spec!r}")


@dataclass
class GateSettings:
    """Everything :func:`evaluate` needs besides the blocks.

    ``root`` is the project root: absolute block paths below it are made
    relative to it before matching globs and building baseline keys, so the
    baseline does not depend on where the repository is checked out.
    ``overrides`` may be given as tuples or mappings; they are normalised to
    :class:`PathOverride` on construction.
    """

    max_cc: int | None = 10
    max_lines: int | None = 50
    max_average: float | int | str | None = None
    overrides: list[PathOverride] = field(default_factory=list)
    baseline: dict[str, Any] | None = None
    root: str | None = None

    def __post_init__(self) -> None:
        _check_limit(self.max_cc, "max_cc")
        _check_limit(self.max_lines, "max_lines")
        parse_max_average(self.max_average)  # validate early
        self.overrides = [_to_override(o) for o in (self.overrides or [])]
        if self.baseline is not None:
            _baseline_entries(self.baseline)  # validate early

    @property
    def average_limit(self) -> float | None:
        """``max_average`` as a number (rank letters converted), or None."""
        return parse_max_average(self.max_average)

    def relpath(self, path: str) -> str:
        """Project-relative ``/`` path used for globs, keys and display."""
        return _project_relpath(path, self.root)

    def thresholds_for(self, path: str) -> tuple[int | None, int | None]:
        """(max_cc, max_lines) for a file after applying matching overrides."""
        rel = self.relpath(path)
        max_cc, max_lines = self.max_cc, self.max_lines
        for override in self.overrides:
            if override.matches(rel):
                if override.max_cc is not None:
                    max_cc = override.max_cc
                if override.max_lines is not None:
                    max_lines = override.max_lines
        return max_cc, max_lines


# --------------------------------------------------------------------------
# baseline keys and data
# --------------------------------------------------------------------------


def _position(block: Block) -> tuple[str, int, int, str]:
    return (block.path, block.lineno, block.col, block.name)


def baseline_keys(
    blocks: Iterable[Block], root: str | None = None
) -> dict[Block, tuple[str, str]]:
    """Map each function/method block to its (relpath, key) baseline key.

    The key is the qualified name, with ``#N`` appended for the N-th (N >= 2)
    occurrence of the same name in the same file, in source order.  No line
    numbers, so inserting code above a function keeps its key.
    """
    settings = GateSettings(root=root)
    seen: dict[tuple[str, str], int] = {}
    keys: dict[Block, tuple[str, str]] = {}
    ordered = sorted((b for b in blocks if b.is_function), key=_position)
    for block in ordered:
        rel = settings.relpath(block.path)
        count = seen.get((rel, block.name), 0) + 1
        seen[(rel, block.name)] = count
        keys[block] = (rel, block.name if count == 1 else f"{block.name}#{count}")
    return keys


def _baseline_record(path: str, key: Any, record: Any) -> tuple[int, int]:
    """One ``{"cc": .., "length": ..}`` record as ``(cc, length)``."""
    if not isinstance(record, Mapping):
        raise BaselineError(f"baseline record {path}::{key} must be an object")
    cc, length = record.get("cc"), record.get("length")
    if _count(cc) and _count(length):
        return cc, length
    raise BaselineError(f"baseline record {path}::{key} needs integer 'cc' and 'length'")


def _count(value: object) -> TypeGuard[int]:
    """A non-negative int (JSON's true/false are not counts)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _baseline_file_entries(path: Any, functions: Any) -> dict[str, tuple[int, int]]:
    """The records of one file, keyed by the (stringified) baseline key."""
    if not isinstance(path, str) or not isinstance(functions, Mapping):
        raise BaselineError(f"baseline entries for {path!r} must be an object")
    return {str(key): _baseline_record(path, key, record) for key, record in functions.items()}


def _baseline_entries(data: Any) -> dict[str, dict[str, tuple[int, int]]]:
    """Validate a baseline dict and return {path: {key: (cc, length)}}."""
    if not isinstance(data, Mapping):
        raise BaselineError("baseline must be a JSON object")
    version = data.get("version")
    if version != BASELINE_VERSION:
        raise BaselineError(
            f"unsupported baseline version {version!r} (expected {BASELINE_VERSION})"
        )
    entries = data.get("entries", {})
    if not isinstance(entries, Mapping):
        raise BaselineError("baseline 'entries' must be an object")
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for path, functions in entries.items():
        per_file = _baseline_file_entries(path, functions)  # validates path before normalising it
        out[_normalize_path(path)] = per_file
    return out


def _entries_to_data(entries: Mapping[str, Mapping[str, tuple[int, int]]]) -> dict[str, Any]:
    return {
        "version": BASELINE_VERSION,
        "entries": {
            path: {key: {"cc": cc, "length": length} for key, (cc, length) in sorted(funcs.items())}
            for path, funcs in sorted(entries.items())
            if funcs
        },
    }


def _is_offender(block: Block, max_cc: int | None, max_lines: int | None) -> bool:
    return (max_cc is not None and block.complexity > max_cc) or (
        max_lines is not None and block.length > max_lines
    )


def _offender_entries(
    blocks: Iterable[Block], settings: GateSettings
) -> dict[str, dict[str, tuple[int, int]]]:
    entries: dict[str, dict[str, tuple[int, int]]] = {}
    for block, (rel, key) in baseline_keys(blocks, settings.root).items():
        if _is_offender(block, *settings.thresholds_for(rel)):
            entries.setdefault(rel, {})[key] = (block.complexity, block.length)
    return entries


def make_baseline(blocks: Iterable[Block], settings: GateSettings) -> dict[str, Any]:
    """Record every current offender (with its cc and length) as tolerated.

    Use this to adopt the gate on a legacy code base (``--init``); to refresh
    an existing baseline use :func:`update_baseline`, which refuses regressions.
    """
    return _entries_to_data(_offender_entries(blocks, settings))


def load_baseline(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a baseline JSON file.

    Raises :class:`BaselineError` if it is malformed or of another version;
    ``FileNotFoundError`` (an ``OSError``) propagates so a caller can treat a
    missing baseline as "no baseline" if it wants.
    """
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{os.fspath(path)}: invalid JSON: {exc}") from exc
    try:
        entries = _baseline_entries(data)
    except BaselineError as exc:
        raise BaselineError(f"{os.fspath(path)}: {exc}") from exc
    return _entries_to_data(entries)


def dump_baseline(data: Mapping[str, Any]) -> str:
    """The canonical text of a baseline: sorted keys, so diffs stay minimal."""
    canonical = _entries_to_data(_baseline_entries(data))
    return json.dumps(canonical, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def save_baseline(path: str | os.PathLike[str], data: Mapping[str, Any]) -> None:
    """Atomically write a baseline (temp file in the same dir + ``os.replace``).

    A crash or a concurrent reader never sees a half-written baseline.
    """
    text = dump_baseline(data)
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    try:
        mode = os.stat(target).st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(
        prefix="." + os.path.basename(target) + ".", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


# --------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------


def _fmt_number(value: float) -> str:
    """Integers without decimals, other numbers with two."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}"


@dataclass(frozen=True)
class Violation:
    """One broken rule: a block's cc or length, or the project average.

    ``limit`` is the threshold, or the recorded number when a baselined
    function got worse (``source == "baseline"``).  For ``metric ==
    "average"`` the block fields are None.
    """

    metric: Metric
    value: float
    limit: float
    source: Source = "threshold"
    block: Block | None = None
    path: str | None = None
    key: str | None = None

    @property
    def excess(self) -> float:
        """How far over the limit (used to sort worst first)."""
        return self.value - self.limit

    @property
    def message(self) -> str:
        """E.g. ``cc 14 > 10``, ``length 73 > 50``, ``cc 14 > baseline 12``."""
        if self.metric == "average":
            return f"average cc {self.value:.2f} > {_fmt_number(self.limit)}"
        where = "baseline " if self.source == "baseline" else ""
        return f"{self.metric} {_fmt_number(self.value)} > {where}{_fmt_number(self.limit)}"


@dataclass(frozen=True)
class Offender:
    """One function over one or more limits: listed once, with every reason (``cc`` first)."""

    block: Block
    path: str
    key: str
    reasons: tuple[Violation, ...]

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(v.metric for v in self.reasons)

    @property
    def message(self) -> str:
        """E.g. ``cc 14 > 10; length 73 > 50``."""
        return "; ".join(v.message for v in self.reasons)


def group_offenders(violations: Iterable[Violation]) -> tuple[Offender, ...]:
    """Block violations grouped per function, in the order of each function's worst violation."""
    grouped: dict[tuple[str | None, str | None, int], list[Violation]] = {}
    for v in violations:
        if v.block is not None:
            grouped.setdefault((v.path, v.key, id(v.block)), []).append(v)
    return tuple(
        Offender(
            found[0].block,  # type: ignore[arg-type]
            found[0].path or found[0].block.path,  # type: ignore[union-attr]
            found[0].key or found[0].block.name,  # type: ignore[union-attr]
            tuple(sorted(found, key=lambda v: _METRIC_ORDER[v.metric])),
        )
        for found in grouped.values()
    )


@dataclass(frozen=True)
class GateResult:
    """Outcome of :func:`evaluate`; ``passed`` is what CI cares about."""

    violations: tuple[Violation, ...]
    blocks: tuple[Block, ...]
    checked: int
    average: float
    average_rank: str
    max_cc: int | None
    max_lines: int | None
    max_average: float | None
    baseline_used: bool = False
    #: functions over a threshold that the baseline tolerates
    allowed_by_baseline: int = 0
    #: "path::key" of baseline entries :func:`update_baseline` would change/drop
    baseline_outdated: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.violations

    @property
    def block_violations(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.block is not None)

    @property
    def offenders(self) -> tuple[Offender, ...]:
        """Each function over a limit once, worst first, with all its reasons."""
        return group_offenders(self.violations)

    @property
    def average_violation(self) -> Violation | None:
        return next((v for v in self.violations if v.block is None), None)


def _check(
    metric: Metric, value: int, threshold: int | None, recorded: int | None
) -> tuple[int, Source] | None:
    """Return (limit, source) if ``value`` breaks the rule, else None."""
    if threshold is None or value <= threshold:
        return None
    if recorded is not None and recorded > threshold:
        # Grandfathered by the baseline: may stay over, may not get worse.
        return None if value <= recorded else (recorded, "baseline")
    return threshold, "threshold"


_METRIC_ORDER = {"cc": 0, "length": 1, "average": 2}


def _violation_sort_key(v: Violation) -> tuple[Any, ...]:
    """Worst first; only block violations are sorted (the average one is appended last)."""
    b = v.block
    if b is None:
        raise ValueError(f"cannot sort a violation without a block: {v.message}")
    return (-v.excess, -b.complexity, v.path or "", b.lineno, b.col, _METRIC_ORDER[v.metric], b.name)


def _outdated(
    old: Mapping[str, Mapping[str, tuple[int, int]]],
    new: Mapping[str, Mapping[str, tuple[int, int]]],
    in_scope: set[str] | None,
    violated: set[tuple[str, str]],
) -> list[str]:
    """Entries an update would drop or lower (violating ones excluded)."""
    out = []
    for path, funcs in old.items():
        if in_scope is not None and path not in in_scope:
            continue
        for key, record in funcs.items():
            if (path, key) in violated:
                continue
            if new.get(path, {}).get(key) != record:
                out.append(f"{path}::{key}")
    return sorted(out)


def _scope(paths: Iterable[str] | None, settings: GateSettings) -> set[str] | None:
    return None if paths is None else {settings.relpath(p) for p in paths}


def _judge_block(
    block: Block, rel: str, key: str, settings: GateSettings, old: Mapping[str, Mapping[str, tuple[int, int]]]
) -> tuple[list[Violation], bool]:
    """The block's violations, and whether it is an offender that the baseline tolerates."""
    max_cc, max_lines = settings.thresholds_for(rel)
    rec_cc, rec_len = old.get(rel, {}).get(key, (None, None))
    found: list[Violation] = []
    for metric, value, threshold, recorded in (
        ("cc", block.complexity, max_cc, rec_cc),
        ("length", block.length, max_lines, rec_len),
    ):
        hit = _check(metric, value, threshold, recorded)  # type: ignore[arg-type]
        if hit is not None:
            limit, source = hit
            found.append(
                Violation(metric, value, limit, source, block, rel, key)  # type: ignore[arg-type]
            )
    return found, not found and _is_offender(block, max_cc, max_lines)


def _block_violations(
    keys: Mapping[Block, tuple[str, str]], settings: GateSettings, old: Mapping[str, Mapping[str, tuple[int, int]]]
) -> tuple[list[Violation], int]:
    """Every block's violations (worst first) and the number of offenders the baseline tolerates."""
    violations: list[Violation] = []
    allowed = 0
    for block, (rel, key) in keys.items():
        found, tolerated = _judge_block(block, rel, key, settings, old)
        violations.extend(found)
        allowed += tolerated
    violations.sort(key=_violation_sort_key)
    return violations, allowed


def _mean_cc(blocks: Iterable[Block]) -> float:
    complexities = [b.complexity for b in blocks]
    return math.fsum(complexities) / len(complexities) if complexities else 0.0


def _outdated_entries(
    old: Mapping[str, Mapping[str, tuple[int, int]]],
    blocks: Sequence[Block],
    settings: GateSettings,
    violations: Sequence[Violation],
    paths: Iterable[str] | None,
) -> list[str]:
    """Baseline entries an update would change; violated ones are excluded (an update refuses them)."""
    violated = {(v.path, v.key) for v in violations if v.path is not None and v.key is not None}
    return _outdated(old, _offender_entries(blocks, settings), _scope(paths, settings), violated)


def evaluate(
    blocks: Iterable[Block],
    settings: GateSettings,
    baseline: Mapping[str, Any] | None = None,
    *,
    paths: Iterable[str] | None = None,
) -> GateResult:
    """Apply thresholds, overrides, the baseline ratchet and the average limit.

    ``baseline`` defaults to ``settings.baseline``.  ``paths`` (optional) are
    the files that were measured; only baseline entries for those files are
    reported as outdated (default: the whole baseline is in scope).  The
    result does not depend on the order of ``blocks``.
    """
    all_blocks = tuple(sorted(blocks, key=lambda b: (*_position(b), b.kind)))
    data = baseline if baseline is not None else settings.baseline
    old = _baseline_entries(data) if data is not None else {}
    keys = baseline_keys(all_blocks, settings.root)

    violations, allowed = _block_violations(keys, settings, old)
    average = _mean_cc(keys)
    limit = settings.average_limit
    if limit is not None and average > limit:
        violations.append(Violation("average", average, limit))

    outdated: list[str] = []
    if data is not None:
        outdated = _outdated_entries(old, all_blocks, settings, violations, paths)

    return GateResult(
        violations=tuple(violations),
        blocks=all_blocks,
        checked=len(keys),
        average=average,
        average_rank=cc_rank(average),
        max_cc=settings.max_cc,
        max_lines=settings.max_lines,
        max_average=limit,
        baseline_used=data is not None,
        allowed_by_baseline=allowed,
        baseline_outdated=tuple(outdated),
    )


@dataclass(frozen=True)
class BaselineUpdate:
    """Outcome of :func:`update_baseline`.

    ``baseline`` is the new data to save, or None when ``errors`` is non-empty
    (something got worse or a new offender appeared: refuse to record it).
    """

    baseline: dict[str, Any] | None
    errors: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    tightened: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


def update_baseline(
    blocks: Iterable[Block],
    settings: GateSettings,
    baseline: Mapping[str, Any] | None = None,
    *,
    paths: Iterable[str] | None = None,
) -> BaselineUpdate:
    """Rewrite a baseline after improvements, refusing to record regressions.

    Still-offending functions are kept at their current (never higher)
    numbers, fixed ones are dropped.  If any function/method violates the
    gate under the old baseline, nothing is written and ``errors`` lists the
    violations.  With ``paths`` (the files measured), entries of other files
    are kept untouched so a partial run cannot wipe them.  The average limit
    is not part of the baseline and is ignored here.
    """
    blocks = list(blocks)
    data = baseline if baseline is not None else settings.baseline
    if data is None:
        data = _entries_to_data({})
    result = evaluate(blocks, settings, data)
    errors = tuple(
        f"{v.path}:{v.block.lineno}: {v.block.name}: {v.message}"
        for v in result.block_violations
        if v.block is not None
    )
    if errors:
        return BaselineUpdate(None, errors)

    old = _baseline_entries(data)
    new = _offender_entries(blocks, settings)
    _keep_unmeasured(new, old, _scope(paths, settings))
    dropped, tightened = _baseline_changes(old, new)
    return BaselineUpdate(_entries_to_data(new), (), dropped, tightened)


def _keep_unmeasured(
    new: dict[str, dict[str, tuple[int, int]]],
    old: Mapping[str, Mapping[str, tuple[int, int]]],
    scope: set[str] | None,
) -> None:
    """Copy the old entries of files outside ``scope`` so a partial run cannot wipe them."""
    if scope is None:
        return
    for path, funcs in old.items():
        if path not in scope:
            new[path] = dict(funcs)


def _baseline_changes(
    old: Mapping[str, Mapping[str, tuple[int, int]]],
    new: Mapping[str, Mapping[str, tuple[int, int]]],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(dropped, tightened)`` ``path::key`` names, each sorted."""
    dropped, tightened = [], []
    for path, funcs in old.items():
        for key, record in funcs.items():
            now = new.get(path, {}).get(key)
            if now is None:
                dropped.append(f"{path}::{key}")
            elif now != record:
                tightened.append(f"{path}::{key}")
    return tuple(sorted(dropped)), tuple(sorted(tightened))


# --------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def render_text(result: GateResult) -> str:
    """Human report: one line per offending function (worst first, all its reasons), the
    average if over its limit, then a summary.

    ``path:line: name CC 14 (C) length 73 — cc 14 > 10; length 73 > 50``; the last line is
    ``N functions checked, M violations, average CC x.xx (A)``.
    """
    lines = []
    for o in result.offenders:
        b = o.block
        lines.append(
            f"{o.path}:{b.lineno}: {b.name} CC {b.complexity} ({b.rank}) "
            f"length {b.length} — {o.message}"
        )
    average = result.average_violation
    if average is not None:
        lines.append(f"average CC {result.average:.2f} ({result.average_rank}) — {average.message}")
    if result.baseline_used and (result.allowed_by_baseline or result.baseline_outdated):
        note = f"{_plural(result.allowed_by_baseline, 'function')} over a threshold allowed by the baseline"
        if result.baseline_outdated:
            count = _plural(len(result.baseline_outdated), "baseline entry", "baseline entries")
            note += f"; {count} can be tightened (update the baseline)"
        lines.append(note)
    lines.append(
        f"{_plural(result.checked, 'function')} checked, "
        f"{_plural(len(result.violations), 'violation')}, "
        f"average CC {result.average:.2f} ({result.average_rank})"
    )
    return "\n".join(lines)


def _reason_json(v: Violation) -> dict[str, Any]:
    return {
        "metric": v.metric, "value": v.value, "limit": v.limit, "excess": v.excess,
        "source": v.source, "message": v.message,
    }


def _offender_json(o: Offender) -> dict[str, Any]:
    b = o.block
    return {
        "path": o.path, "name": b.name, "key": o.key, "kind": b.kind, "lineno": b.lineno,
        "endline": b.endline, "col": b.col, "complexity": b.complexity, "rank": b.rank,
        "length": b.length, "message": o.message, "reasons": [_reason_json(v) for v in o.reasons],
    }


def _violation_json(v: Violation) -> dict[str, Any]:
    b = v.block
    return {
        "metric": v.metric,
        "value": v.value,
        "limit": v.limit,
        "excess": v.excess,
        "source": v.source,
        "message": v.message,
        "path": v.path,
        "name": b.name if b else None,
        "key": v.key,
        "kind": b.kind if b else None,
        "lineno": b.lineno if b else None,
        "endline": b.endline if b else None,
        "col": b.col if b else None,
        "complexity": b.complexity if b else None,
        "rank": b.rank if b else None,
        "length": b.length if b else None,
    }


def to_json(result: GateResult) -> dict[str, Any]:
    """Machine-readable result; schema documented in the module docstring."""
    max_average = result.max_average
    if max_average is not None and math.isinf(max_average):
        max_average = None
    return {
        "version": JSON_SCHEMA_VERSION,
        "passed": result.passed,
        "checked": result.checked,
        "violation_count": len(result.violations),
        "average": result.average,
        "average_rank": result.average_rank,
        "thresholds": {
            "max_cc": result.max_cc,
            "max_lines": result.max_lines,
            "max_average": max_average,
        },
        "baseline": {
            "used": result.baseline_used,
            "allowed": result.allowed_by_baseline,
            "outdated": list(result.baseline_outdated),
        },
        "functions": [_offender_json(o) for o in result.offenders],
        "violations": [_violation_json(v) for v in result.violations],
    }
