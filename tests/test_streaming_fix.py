"""Streaming fix runs: each file is written as soon as its own fixes are stable, cross-file fixes
(WS303/WS304) afterwards on top of what was written; the progress bar shows what was fixed."""

from __future__ import annotations

import shutil
from pathlib import Path

from wsrefactor import runner
from wsrefactor.config import Config
from wsrefactor.engine import FixPolicy
from wsrefactor.progress import Bar
from wsrefactor.registry import load_rules
from wsrefactor.runner import Job, execute
from wsrefactor.selection import Selection
from wsrefactor.testing import fix_source

REPO = Path(__file__).resolve().parent.parent
DANGLING = "import asyncio\n\n\nasync def f(x):\n    asyncio.create_task(x())\n"
FIXED = fix_source(DANGLING, ["WS205"])


def _job(root: Path, codes: tuple[str, ...] = ("WS",)) -> Job:
    selection = Selection.build(codes, (), load_rules(()).keys())
    return Job(Config(root=str(root), cache=False), selection, fix=FixPolicy(unsafe=True))


def test_files_are_written_as_they_finish_not_at_the_end(tmp_path, monkeypatch):
    """When the project phase starts, every file's own fixes are already on disk."""
    paths = []
    for i in range(6):
        path = tmp_path / f"m{i}.py"
        path.write_text(DANGLING)
        paths.append(path)
    seen_on_disk: list[str] = []
    real = runner._project_results

    def spy(*args, **kwargs):
        seen_on_disk.extend(p.read_text() for p in paths)
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "_project_results", spy)
    run = execute([str(tmp_path)], _job(tmp_path), 1, write=True)
    assert seen_on_disk == [FIXED] * 6
    assert run.written == sorted(str(p) for p in paths)
    assert run.fixed == {"WS205": 6}


def test_diff_writes_nothing(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(DANGLING)
    run = execute([str(tmp_path)], _job(tmp_path), 1, write=False, diff=True)
    assert path.read_text() == DANGLING and run.written == [] and len(run.diffs) == 1


def test_cross_file_fix_lands_on_top_of_the_streamed_file(tmp_path, monkeypatch):
    """WS303's payloads are applied after the per-file write, to the text that write left; a
    second run changes nothing."""
    root = tmp_path / "p"
    shutil.copytree(REPO / "fixtures" / "WS303" / "plain" / "src", root)
    notify = root / "feed" / "notify.py"
    notify.write_text(notify.read_text() + "\n\n" + DANGLING.split("\n\n\n", 1)[1].replace("def f", "def g"))
    notify.write_text("import asyncio\n" + notify.read_text())
    monkeypatch.chdir(root)
    job = _job(root, ("WS205", "WS303"))
    writes: list[str] = []
    real = runner._write_file

    def count(run, path, *args, **kwargs):
        writes.append(Path(path).name)
        return real(run, path, *args, **kwargs)

    monkeypatch.setattr(runner, "_write_file", count)
    run = execute([str(root)], job, 1, write=True)
    text = notify.read_text()
    assert "keep_task(asyncio.create_task(x()))" in text  # WS205 (the shared background_tasks helper), streamed
    assert "serialize_" in text  # WS303, applied on top
    assert writes.count("notify.py") == 2  # once streamed, once for the cross-file fix
    assert run.fixed.get("WS205") == 1 and run.fixed.get("WS303", 0) >= 1
    compile(text, str(notify), "exec")
    again = execute([str(root)], job, 1, write=True)
    assert again.written == [] and sum(again.fixed.values()) == 0


def test_bar_label_changes_while_running():
    bar = Bar(10, enabled=False, label="fixing")
    bar.describe("fixing · 3 fixed · 2 files written")
    bar.advance(4)
    assert (bar.label, bar.done) == ("fixing · 3 fixed · 2 files written", 4)
