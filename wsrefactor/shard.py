"""``--shard K/N`` and ``wsrefactor merge``: one check spread over N machines, decided as one.

Partition: a file belongs to shard ``1 + h % N`` where ``h`` is the first 8 bytes (big-endian)
of the SHA-256 of its path relative to the project root, ``/``-separated. Every machine computes
the same partition from the same checkout (Python's ``hash()`` is salted per process; this is not).

A shard decides every per-file finding of its files. Cross-file rules (WS303, WS304) need every
file's facts, so a shard only records them, in its output's ``project`` field, together with what
``merge`` needs to finish exactly as one unsharded run would:

* ``rules``: the enabled project rules and their options;
* ``facts``: ``{code: {path: [fact, ...]}}``, each fact a dataclass as
  ``{"__fact__": "module:Class", field: value, ...}`` (tuples as lists);
* ``suppressions``: per file, the inline suppressions that could cover a cross-file finding
  (those naming a project rule's code or a prefix of it), with the codes file findings already
  used and the codes the file was checked for: their ``WS001 unused suppression`` is decided by
  ``merge``, not the shard;
* ``context``: files whose facts were read only as context (``cross-file-scope = "project"``,
  added by shard 1), whose own findings are not reported;
* ``cwd``: the shard's working directory: ``merge`` maps paths below it to its own, so machines
  with different checkout directories merge too.

Findings in a shard's JSON carry three more keys than ``check --format json`` (``stmt_line``,
``stmt_end_line``, ``context``) so the merged SARIF fingerprints are those of an unsharded run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsrefactor.model import Edit, Finding, FixInfo, FixSafety, Severity
from wsrefactor.suppressions import Suppression, unused_suppressions

FORMAT = 1
KEY = "wsrefactor_shard"  # top-level key of a shard's JSON; SARIF: runs[0].properties[KEY]


class ShardError(ValueError):
    """A malformed ``--shard`` value or shard output: one line, exit 2."""


def parse_shard(value: str) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)`` with ``1 <= K <= N``."""
    index, sep, count = value.partition("/")
    try:
        k, n = int(index), int(count)
    except ValueError:
        k = n = 0
    if not sep or n < 1 or not 1 <= k <= n:
        raise ShardError(f"--shard must be K/N with 1 <= K <= N (e.g. 2/4), got {value!r}")
    return k, n


def shard_of(path: str, root: str, count: int) -> int:
    """The shard (1-based) holding ``path``: a stable hash of its path relative to ``root``."""
    try:
        rel = Path(os.path.abspath(path)).relative_to(Path(os.path.abspath(root))).as_posix()
    except ValueError:
        rel = Path(os.path.abspath(path)).as_posix()
    digest = hashlib.sha256(rel.encode("utf-8")).digest()
    return 1 + int.from_bytes(digest[:8], "big") % count


def select(files: Sequence[str], root: str, shard: tuple[int, int]) -> list[str]:
    index, count = shard
    return [f for f in files if shard_of(f, root, count) == index]


# ------------------------------------------------------------------ what a shard records


def could_cover(code: str, project_codes: Iterable[str]) -> bool:
    """Whether a suppression's ``code`` (a code or prefix) could suppress a cross-file finding."""
    return any(p.startswith(code) for p in project_codes)


def suppression_record(sup: Suppression, judged: Callable[[str], bool]) -> dict[str, Any]:
    return {
        "line": sup.line, "column": sup.column, "codes": list(sup.codes), "kind": sup.kind,
        "first_line": sup.first_line, "last_line": sup.last_line, "used": sorted(sup.used),
        "judged": [c for c in sup.codes if judged(c)],
    }


@dataclass
class ShardState:
    """What ``--shard`` adds to a run's output (the ``project`` field)."""

    index: int
    count: int
    files: int
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    facts: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    suppressions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    context: list[str] = field(default_factory=list)
    ws001: bool = True
    root: str = "."

    def payload(self, findings: Sequence[Finding], display: Callable[[str], str]) -> dict[str, Any]:
        """The shard's whole JSON output."""
        return {
            KEY: {"format": FORMAT, "index": self.index, "count": self.count, "files": self.files},
            "findings": [finding_json(f, display(f.path)) for f in findings],
            "project": {
                "cwd": os.getcwd(),
                "root": self.root,
                "rules": self.rules,
                "ws001": self.ws001,
                "facts": {code: {p: [encode(f) for f in fs] for p, fs in by_path.items()}
                          for code, by_path in self.facts.items()},
                "suppressions": self.suppressions,
                "context": self.context,
            },
        }


def finding_json(finding: Finding, shown: str) -> dict[str, Any]:
    data = finding.to_json(shown)
    data.update(stmt_line=finding.stmt_line, stmt_end_line=finding.stmt_end_line, context=finding.context)
    return data


def _edits(items: Sequence[Mapping[str, Any]]) -> tuple[Edit, ...]:
    return tuple(
        Edit(e["start"]["line"], e["start"]["column"], e["end"]["line"], e["end"]["column"], e["content"])
        for e in items
    )


def finding_from_json(data: Mapping[str, Any]) -> Finding:
    fix = data.get("fix")
    info = None
    if fix is not None:
        info = FixInfo(
            FixSafety(fix["safety"]), fix["description"], _edits(fix.get("edits", ())),
            tuple((p, _edits(es)) for p, es in (fix.get("other_files") or {}).items()),
            planned=bool(fix.get("planned", True)),
        )
    return Finding(
        code=data["code"], name=data["name"], message=data["message"], path=data["filename"],
        line=data["line"], column=data["column"], end_line=data["end_line"], end_column=data["end_column"],
        severity=Severity(data["severity"]), category=data.get("category", ""), fix=info,
        stmt_line=data.get("stmt_line", 0), stmt_end_line=data.get("stmt_end_line", 0),
        context=data.get("context", ""),
    )


# ------------------------------------------------------------------ facts as JSON


def encode(value: Any) -> Any:
    """A fact as JSON: dataclasses tagged with their class, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        out: dict[str, Any] = {"__fact__": f"{cls.__module__}:{cls.__qualname__}"}
        for f in dataclasses.fields(value):
            out[f.name] = encode(getattr(value, f.name))
        return out
    if isinstance(value, (tuple, list)):
        return [encode(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise ShardError(f"a project fact holds a {type(value).__name__}, which a shard cannot record")


def decode(value: Any, allowed_modules: frozenset[str], relocate: Callable[[str], str]) -> Any:
    """The inverse of :func:`encode`; only dataclasses of the project rules' own modules."""
    if isinstance(value, list):
        return tuple(decode(v, allowed_modules, relocate) for v in value)
    if isinstance(value, str):
        return relocate(value)
    if not isinstance(value, dict):
        return value
    return _check_module(value, allowed_modules, relocate)


def _check_module(
    value: Any, allowed_modules: frozenset[str], relocate: Callable[[str], str]
) -> Any:
    module, _, name = str(value.get("__fact__", "")).partition(":")
    if module not in allowed_modules:
        raise ShardError(f"shard output names fact class {module}:{name}, not one of a project rule")
    cls = importlib.import_module(module)
    for part in name.split("."):
        cls = getattr(cls, part)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise ShardError(f"shard output names {module}:{name}, which is not a fact class")
    kwargs = {k: decode(v, allowed_modules, relocate) for k, v in value.items() if k != "__fact__"}
    return cls(**kwargs)


# ------------------------------------------------------------------ merge


@dataclass
class Shard:
    index: int
    count: int
    files: int
    findings: list[Finding]
    project: dict[str, Any]


def read_payload(data: Any, source: str) -> Shard:
    """A shard from its JSON output, or from its SARIF output's ``runs[0].properties``."""
    if isinstance(data, dict) and "runs" in data and KEY not in data:
        try:
            data = data["runs"][0]["properties"][KEY]
        except (KeyError, IndexError, TypeError):
            raise ShardError(f"{source}: SARIF without a shard payload (was it written with --shard?)") from None
    if not isinstance(data, dict) or KEY not in data:
        raise ShardError(f"{source}: not the output of `check --shard K/N --format json|sarif`")
    meta = data[KEY]
    if meta.get("format") != FORMAT:
        raise ShardError(f"{source}: shard format {meta.get('format')!r}, this wsrefactor reads {FORMAT}")
    try:
        findings = [finding_from_json(f) for f in data["findings"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ShardError(f"{source}: malformed finding ({exc})") from None
    return Shard(int(meta["index"]), int(meta["count"]), int(meta.get("files", 0)), findings, data["project"])


def _check_complete(shards: Sequence[Shard]) -> None:
    counts = {s.count for s in shards}
    if len(counts) != 1:
        raise ShardError(f"shards of different partitions: N = {sorted(counts)}")
    count = counts.pop()
    indexes = sorted(s.index for s in shards)
    missing = sorted(set(range(1, count + 1)) - set(indexes))
    if missing:
        raise ShardError(f"missing shard(s) {', '.join(f'{k}/{count}' for k in missing)}")
    if len(indexes) != len(set(indexes)):
        raise ShardError("the same shard was given twice")
    rules = {repr(sorted(s.project.get("rules", {}).items())) for s in shards}
    if len(rules) != 1:
        raise ShardError("shards ran with different project rules or options (same --select and config needed)")


def _relocator(shard_cwd: str) -> Callable[[str], str]:
    """Paths below the shard's working directory, moved below this one."""
    here = os.getcwd()
    if not shard_cwd or shard_cwd == here:
        return lambda s: s
    prefix = shard_cwd.rstrip(os.sep) + os.sep

    def move(value: str) -> str:
        if value == shard_cwd:
            return here
        return os.path.join(here, value[len(prefix):]) if value.startswith(prefix) else value

    return move


@dataclass
class Merged:
    findings: list[Finding]
    files: int
    count: int


def merge(shards: Sequence[Shard], rules: Mapping[str, Any]) -> Merged:
    """Every shard's findings plus the cross-file findings decided from all their facts, with
    the inline suppressions and WS001 settled as one unsharded run settles them."""
    from wsrefactor.reporters import display_path
    from wsrefactor.runner import confine, finalize_rule, project_fix_edits

    _check_complete(shards)
    findings = [f for s in shards for f in s.findings]
    facts: dict[str, dict[str, list[Any]]] = {}
    sups: dict[str, list[Suppression]] = {}
    judged: dict[tuple[str, int, int], set[str]] = {}
    context: set[str] = set()
    project = shards[0].project
    codes = dict(project.get("rules", {}))
    _move_allowed(rules, shards, facts, sups, judged, context)
    root = _relocator(project.get("cwd", ""))(project.get("root", "."))
    for code, options in codes.items():
        if code not in rules:
            raise ShardError(f"shards ran project rule {code}, which this wsrefactor does not have (plugins?)")
        decided = confine(finalize_rule(rules[code], facts.get(code, {}), options, root), lambda p: p not in context)
        for finding, _ in project_fix_edits(decided, _on_disk, rules):
            if finding.path in context or _suppressed(finding, sups.get(finding.path, ())):
                continue
            findings.append(finding.with_path(display_path(finding.path)))
    return _with_path(project, sups, judged, findings, display_path, shards)


def _on_disk(path: str) -> Any:
    """A cross-file fix's file as the merge step reads it (the checkout it runs in)."""
    from wsrefactor.runner import FileResult

    return FileResult(path) if os.path.isfile(path) else None


def _move_allowed(
    rules: Mapping[str, Any],
    shards: Sequence[Shard],
    facts: dict[str, dict[str, list[Any]]],
    sups: dict[str, list[Suppression]],
    judged: dict[tuple[str, int, int], set[str]],
    context: set[str],
) -> None:
    allowed = _frozenset_allowed(rules, shards)
    for shard in shards:
        move = _relocator(shard.project.get("cwd", ""))
        for code, by_path in shard.project.get("facts", {}).items():
            target = facts.setdefault(code, {})
            for path, items in by_path.items():
                target[move(path)] = [decode(i, allowed, move) for i in items]
        for path, records in shard.project.get("suppressions", {}).items():
            for r in records:
                sup = Suppression(r["line"], r["column"], tuple(r["codes"]), r["kind"], r["first_line"],
                                  r["last_line"], set(r["used"]))
                sups.setdefault(move(path), []).append(sup)
                judged[(move(path), sup.line, sup.column)] = set(r["judged"])
        context.update(move(p) for p in shard.project.get("context", ()))


def _frozenset_allowed(rules: Mapping[str, Any], shards: Sequence[Shard]) -> Any:
    # fact classes may live beside any project rule (WS304 records WS303's ModuleFact) or in
    # wsrefactor itself; nothing else is ever imported from a shard's output
    allowed = frozenset(
        r.__module__ for r in rules.values() if getattr(r, "is_project_rule", False)
    ) | frozenset(m for m in _fact_modules(shards) if m == "wsrefactor" or m.startswith("wsrefactor."))
    return allowed


def _with_path(
    project: Any,
    sups: dict[str, list[Suppression]],
    judged: dict[tuple[str, int, int], set[str]],
    findings: list[Any],
    display_path: Any,
    shards: Sequence[Shard],
) -> Merged:
    if project.get("ws001", True):
        for path, file_sups in sups.items():
            for sup in file_sups:  # judged per suppression: the codes its file was checked for
                checked = judged[(path, sup.line, sup.column)]
                findings.extend(f.with_path(display_path(f.path)) for f in unused_suppressions(path, [sup], checked.__contains__))
    findings.sort(key=lambda f: f.sort_key)
    return Merged(findings, sum(s.files for s in shards), len(shards))


def _fact_modules(shards: Sequence[Shard]) -> set[str]:
    """Every module a shard's facts name (checked against what may be imported)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            found.add(str(value.get("__fact__", "")).partition(":")[0])
            for v in value.values():
                walk(v)

    for shard in shards:
        walk(list(shard.project.get("facts", {}).values()))
    return found


def _suppressed(finding: Finding, sups: Iterable[Suppression]) -> bool:
    for sup in sups:
        code = sup.covers(finding)
        if code is not None:
            sup.used.add(code)
            return True
    return False


def render(fmt: str, findings: list[Finding], state: ShardState, rules: Mapping[str, Any]) -> str:
    """A shard's output: JSON (the payload), or SARIF carrying the payload in its run's
    properties (so the file uploads as SARIF and merges too)."""
    import json

    from wsrefactor.reporters import display_path

    payload = state.payload(findings, display_path)
    if fmt == "json":
        return json.dumps(payload, indent=2) + "\n"
    from wsrefactor.reporters.sarif import to_sarif

    log = to_sarif(findings, rules)
    log["runs"][0].setdefault("properties", {})[KEY] = payload
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
