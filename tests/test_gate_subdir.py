"""The gate's SARIF and GitHub paths point at real files when it runs from a subdirectory.

The gate's JSON keys functions by project-relative path (the baseline's keys); SARIF and GitHub
annotations locate files from the working directory, so a run from below the project root must
not prefix the subdirectory twice.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _gate(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "wsrefactor", "gate", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )
    assert proc.stdout, proc.stderr
    return proc.stdout


def _project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.wsrefactor]\n", encoding="utf-8")
    shutil.copytree(REPO / "fixtures" / "WS301", tmp_path / "pkg" / "handlers")
    return tmp_path


def test_sarif_uris_resolve_from_a_subdirectory(tmp_path: Path) -> None:
    root = _project(tmp_path)
    cwd = root / "pkg"
    log = json.loads(_gate(cwd, "handlers", "--format", "sarif"))
    run = log["runs"][0]
    base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert run["results"]
    for result in run["results"]:
        loc = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert loc["uri"].startswith("handlers/"), loc
        assert (Path(base.removeprefix("file://")) / loc["uri"]).is_file()


def test_github_annotations_name_files_from_the_cwd(tmp_path: Path) -> None:
    root = _project(tmp_path)
    out = _gate(root / "pkg", "handlers", "--format", "github")
    files = {part.split("=", 1)[1] for line in out.splitlines() if line.startswith("::error ")
             for part in line.split(" ", 1)[1].split(",") if part.startswith("file=")}
    assert files and all((root / "pkg" / f).is_file() for f in files), files


def test_json_keeps_project_relative_paths(tmp_path: Path) -> None:
    root = _project(tmp_path)
    data = json.loads(_gate(root / "pkg", "handlers", "--format", "json"))
    assert {f["path"] for f in data["functions"]} and all(
        f["path"].startswith("pkg/handlers/") for f in data["functions"])
