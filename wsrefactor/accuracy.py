"""Per-rule recall and precision on a labelled corpus of public WebSocket code.

``python -m wsrefactor.accuracy`` reads ``accuracy/labels.toml`` (locations, labels and reasons
only; never third-party code), materialises every project at its pinned commit from a local
snapshot (``git archive`` of ``<mirror>/<owner>+<name>/repo``), runs ``wsrefactor check`` on the
whole project (project rules need every file) and scores each rule:

- recall: positive labels ("finding") matched by a finding of that rule inside the label's lines;
- precision: matched findings over matched + false findings, where a finding is false when it
  falls inside a "clean" label, or in a file the corpus lists as reviewed for that rule without
  matching any positive label. Findings elsewhere are counted as unlabelled, never as hits.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess  # nosec B404 - git and wsrefactor itself, with our own arguments
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_LABELS = Path(__file__).resolve().parent.parent / "accuracy" / "labels.toml"
DEFAULT_MIRROR = Path("/work/.mirror")


@dataclass(frozen=True)
class Label:
    project: str
    path: str
    code: str
    first: int
    last: int
    positive: bool
    reason: str

    def covers(self, path: str, code: str, line: int) -> bool:
        return path == self.path and code == self.code and self.first <= line <= self.last


@dataclass(frozen=True)
class Project:
    name: str
    commit: str
    reviewed: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Hit:
    """A finding of the tool, relative to its project's root."""

    project: str
    path: str
    code: str
    line: int


@dataclass
class Score:
    positives: int = 0
    found: int = 0
    true_findings: int = 0
    false_findings: int = 0
    unlabelled: int = 0
    misses: list[Label] = field(default_factory=list)
    false: list[tuple[Hit, str]] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        return self.found / self.positives if self.positives else None

    @property
    def precision(self) -> float | None:
        judged = self.true_findings + self.false_findings
        return self.true_findings / judged if judged else None


def load_corpus(path: Path) -> tuple[dict[str, Project], list[Label]]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    projects = {
        name: Project(
            name,
            str(spec["commit"]),
            {p: tuple(codes) for p, codes in spec.get("reviewed", {}).items()},
        )
        for name, spec in data.get("projects", {}).items()
    }
    labels = []
    for raw in data.get("label", []):
        if raw["project"] not in projects:
            raise ValueError(f"{path}: label for unknown project {raw['project']!r}")
        if raw["expect"] not in ("finding", "clean"):
            raise ValueError(f"{path}: expect must be 'finding' or 'clean', not {raw['expect']!r}")
        first, last = raw["lines"]
        labels.append(
            Label(raw["project"], raw["path"], raw["code"], int(first), int(last),
                  raw["expect"] == "finding", raw.get("reason", ""))
        )
    return projects, labels


def snapshot_dir(mirror: Path, project: str) -> Path:
    """The snapshot's git directory: ``repo`` is bare, or a work tree whose ``.git`` holds it."""
    repo = mirror / project.replace("/", "+") / "repo"
    return repo / ".git" if (repo / ".git").is_dir() else repo


def materialise(mirror: Path, project: Project, dest: Path) -> str | None:
    """Extract the project at its commit into ``dest``; the reason when it cannot."""
    git_dir = snapshot_dir(mirror, project.name)
    if not git_dir.is_dir():
        return f"no snapshot at {git_dir} (fetch github:{project.name})"
    listing = subprocess.run(  # nosec B603 B607 - git on our own snapshot, arguments are ours
        ["git", "--git-dir", str(git_dir), "ls-tree", "-r", "--name-only", project.commit],
        capture_output=True, text=True, check=False,
    )
    if listing.returncode != 0:
        return f"commit {project.commit[:12]} not in the snapshot: {listing.stderr.strip()[:200]}"
    # Python sources and config only: snapshots may lack large or vendored blobs.
    wanted = [p for p in listing.stdout.splitlines() if p.endswith((".py", ".lua")) or p.endswith("pyproject.toml")]
    _write_blobs(git_dir, project.commit, wanted, dest)
    return None


def _write_blobs(git_dir: Path, commit: str, paths: Sequence[str], dest: Path) -> None:
    """Write ``paths`` at ``commit`` under ``dest`` with one ``git cat-file --batch`` (no archive
    to unpack: a path is written only if it stays inside ``dest``)."""
    batch = subprocess.run(  # nosec B603 B607 - git on our own snapshot, arguments are ours
        ["git", "--git-dir", str(git_dir), "cat-file", "--batch"],
        input="".join(f"{commit}:{p}\n" for p in paths).encode(), capture_output=True, check=True,
    )
    out, pos = batch.stdout, 0
    for path in paths:
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split()
        pos = header_end + 1
        if len(header) < 3 or header[1] != b"blob":  # missing in the snapshot
            continue
        size = int(header[2])
        target = (dest / path).resolve()
        if dest.resolve() in target.parents:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(out[pos : pos + size])
        pos += size + 1


def run_check(root: Path, codes: Sequence[str]) -> list[dict[str, Any]]:
    """``wsrefactor check`` on a whole project, in a subprocess (as a user runs it)."""
    # An empty config keeps a project's own [tool.wsrefactor] (if any) from changing what is scored.
    config = root / ".wsrefactor-accuracy.toml"
    config.write_text("", encoding="utf-8")
    proc = subprocess.run(  # nosec B603 - this interpreter running wsrefactor itself
        [sys.executable, "-m", "wsrefactor", "check", ".", "--select", ",".join(codes),
         "--format", "json", "--no-cache", "--exit-zero", "--config", config.name],
        cwd=root, capture_output=True, text=True, check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"wsrefactor check failed in {root} (exit {proc.returncode}): {proc.stderr.strip()[-400:]}")
    findings: list[dict[str, Any]] = json.loads(proc.stdout or "[]")
    return findings


def hits_of(project: str, root: Path, findings: Iterable[Mapping[str, Any]]) -> list[Hit]:
    out = []
    for f in findings:
        path = Path(f["filename"])
        rel = (path if not path.is_absolute() else path.relative_to(root.resolve())).as_posix()
        out.append(Hit(project, rel, str(f["code"]), int(f["line"])))
    return out


def score(
    projects: Mapping[str, Project], labels: Sequence[Label], hits: Sequence[Hit], evaluated: set[str]
) -> dict[str, Score]:
    scores: dict[str, Score] = defaultdict(Score)
    by_project: dict[str, list[Label]] = defaultdict(list)
    for label in labels:
        if label.project in evaluated:
            by_project[label.project].append(label)
    for label in (lab for labs in by_project.values() for lab in labs if lab.positive):
        _score_label(scores[label.code], label, hits)
    for hit in hits:
        _score_hit(scores[hit.code], hit, by_project[hit.project], projects[hit.project])
    return dict(scores)


def _score_label(s: Score, label: Label, hits: Sequence[Hit]) -> None:
    """Recall: a positive label is found when a finding of its rule falls inside its lines."""
    s.positives += 1
    if any(h.project == label.project and label.covers(h.path, h.code, h.line) for h in hits):
        s.found += 1
    else:
        s.misses.append(label)


def _score_hit(s: Score, hit: Hit, labels: Sequence[Label], project: Project) -> None:
    """Precision: a finding is true inside a positive label, false inside a clean one or in a
    file reviewed for its rule, and unlabelled anywhere else."""
    labs = [lab for lab in labels if lab.covers(hit.path, hit.code, hit.line)]
    if any(lab.positive for lab in labs):
        s.true_findings += 1
    elif labs:
        s.false_findings += 1
        s.false.append((hit, f"inside a clean label: {labs[0].reason}"))
    elif hit.code in project.reviewed.get(hit.path, ()):
        s.false_findings += 1
        s.false.append((hit, "in a reviewed file, matching no positive label"))
    else:
        s.unlabelled += 1


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def table(scores: Mapping[str, Score]) -> str:
    rows = ["| rule | positives | found | recall | true findings | false findings | precision | unlabelled |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    total = Score()
    for code in sorted(scores):
        s = scores[code]
        rows.append(f"| {code} | {s.positives} | {s.found} | {_fmt(s.recall)} | {s.true_findings} | "
                    f"{s.false_findings} | {_fmt(s.precision)} | {s.unlabelled} |")
        total.positives += s.positives
        total.found += s.found
        total.true_findings += s.true_findings
        total.false_findings += s.false_findings
        total.unlabelled += s.unlabelled
    rows.append(f"| all | {total.positives} | {total.found} | {_fmt(total.recall)} | {total.true_findings} | "
                f"{total.false_findings} | {_fmt(total.precision)} | {total.unlabelled} |")
    return "\n".join(rows)


def _run_projects(chosen: Sequence[Project], mirror: Path, codes: Sequence[str]) -> tuple[list[Hit], set[str]]:
    hits: list[Hit] = []
    evaluated: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="wsrefactor-accuracy-") as tmp:
        for project in chosen:
            root = Path(tmp) / project.name.replace("/", "+")
            problem = materialise(mirror, project, root)
            if problem:
                print(f"skipped {project.name}: {problem}", file=sys.stderr)
                continue
            hits.extend(hits_of(project.name, root, run_check(root, codes)))
            evaluated.add(project.name)
    return hits, evaluated


def _details(scores: Mapping[str, Score]) -> str:
    lines = []
    for code in sorted(scores):
        for miss in scores[code].misses:
            lines.append(f"miss  {code} {miss.project}:{miss.path}:{miss.first}-{miss.last}  {miss.reason}")
        for hit, why in scores[code].false:
            lines.append(f"false {code} {hit.project}:{hit.path}:{hit.line}  {why}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wsrefactor.accuracy", description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    parser.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR, help="folder of fetched snapshots")
    parser.add_argument("--project", action="append", help="only these projects (owner/name)")
    parser.add_argument("--details", action="store_true", help="list every miss and false finding")
    args = parser.parse_args(argv)

    projects, labels = load_corpus(args.labels)
    chosen = [p for name, p in sorted(projects.items()) if not args.project or name in args.project]
    hits, evaluated = _run_projects(chosen, args.mirror, sorted({lab.code for lab in labels}))
    n_labels = sum(1 for lab in labels if lab.project in evaluated)
    print(f"{len(evaluated)} of {len(chosen)} projects, {n_labels} labels\n")
    scores = score(projects, labels, hits, evaluated)
    print(table(scores))
    if args.details:
        print(_details(scores))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
