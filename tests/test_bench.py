"""The bench's own logic: a command that failed must stop the bench, never become a figure.

Nothing here times anything; the commands run are tiny stand-ins (or a Python that cannot
import wsrefactor: ``python -S`` outside the repository), so the failure paths are the real ones.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from wsrefactor import bench

NO_MODULE = f"{sys.executable}: No module named wsrefactor\n"


@pytest.fixture
def no_wsrefactor(monkeypatch: pytest.MonkeyPatch) -> None:
    """The measured commands run under a Python without site-packages: wsrefactor is not there."""
    monkeypatch.setattr(bench, "PYTHON", [sys.executable, "-S"])


def test_exit_one_is_a_result_unless_python_says_the_module_is_missing() -> None:
    args = bench.ws("check", ".")
    assert bench.failure(args, 0, "") is None
    assert bench.failure(args, 1, "") is None  # findings remain
    problem = bench.failure(args, 1, NO_MODULE)
    assert problem is not None and "No module named wsrefactor" in problem and "\n" not in problem
    assert "exited 2" in str(bench.failure(args, 2, "wsrefactor: internal error: boom\n"))
    assert bench.failure(args, 1, "Traceback (most recent call last):\n  ...\nKeyError: 'x'\n") == (
        "`" + " ".join([Path(sys.executable).name, "-m", "wsrefactor", "check", "."]) + "` failed: KeyError: 'x'"
    )


def test_timed_command_that_failed_raises(tmp_path: Path) -> None:
    script = "import sys; sys.stderr.write('python: No module named wsrefactor\\n'); sys.exit(1)"
    with pytest.raises(bench.BenchFailure, match="No module named wsrefactor"):
        bench._cmd([sys.executable, "-c", script], tmp_path)()
    bench._cmd([sys.executable, "-c", "raise SystemExit(1)"], tmp_path)()  # exit 1 alone: a result
    bench._cmd([sys.executable, "-c", script], tmp_path, ours=False)()  # a peer's exit is its own business


def test_fix_summary_requires_the_summary_line() -> None:
    args = bench.ws("fix", ".", "--unsafe-fixes")
    done = "Fixed 3 findings in 2 file(s); 0 remaining.\n"
    assert bench.fix_summary(args, 0, done, "", finished=True) == done.strip()
    stopped = "wsrefactor: interrupted: 4 of 1788 files written (5 analysed)\n"
    assert bench.fix_summary(args, 130, "", stopped, finished=False) == stopped.strip()
    with pytest.raises(bench.BenchFailure, match="No module named"):
        bench.fix_summary(args, 1, "", NO_MODULE, finished=True)
    with pytest.raises(bench.BenchFailure, match="printed no summary"):
        bench.fix_summary(args, 0, "", "", finished=True)
    with pytest.raises(bench.BenchFailure, match="exited 130"):  # interrupted by someone else
        bench.fix_summary(args, 130, "", stopped, finished=True)


def test_second_run_results_and_failures() -> None:
    args = bench.ws("fix", ".", "--diff")
    assert bench.second_run(args, 0, "", "") == "second run changes nothing"
    diff = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n"
    assert bench.second_run(args, 1, diff, "") == "SECOND RUN WOULD CHANGE 1 file(s)"
    for code, err in ((1, NO_MODULE), (1, ""), (2, "wsrefactor: internal error: x\n")):
        with pytest.raises(bench.BenchFailure):
            bench.second_run(args, code, "", err)


def test_json_check_must_print_json() -> None:
    args = bench.ws("check", "x.py", "--format", "json")
    bench._check_json(args, 1, '{"findings": []}', "")
    with pytest.raises(bench.BenchFailure, match="printed no JSON"):
        bench._check_json(args, 0, "", "")


def test_fix_round_under_a_python_without_wsrefactor_fails(tmp_path: Path, no_wsrefactor: None) -> None:
    """The reported bug: this printed "No module named wsrefactor", "no file changed" and a time."""
    (tmp_path / "a.py").write_text("x = 1\n")
    with pytest.raises(bench.BenchFailure, match="No module named wsrefactor"):
        bench._fix_round(tmp_path, 1, timeout=60)


def test_bench_exits_two_with_one_line_and_no_figure(
    no_wsrefactor: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        bench.main(["--corpus", "fix-stdlib", "--stdlib-limit", "3", "--repeat", "1"])
    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wsrefactor.bench: error: wsrefactor is not importable")
    assert "No module named" in lines[0]
    assert " s" not in out and "no file changed" not in out  # no figure, no contract result


def test_the_measured_commands_import_this_checkout(tmp_path: Path) -> None:
    import wsrefactor

    assert Path(bench.check_importable(tmp_path)) == Path(wsrefactor.__file__).resolve().parent


def test_another_checkout_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Python that imports some other wsrefactor would time that code, not this one."""
    other = tmp_path / "other"
    (other / "wsrefactor" / "rules").mkdir(parents=True)
    (other / "wsrefactor" / "__init__.py").write_text("")
    (other / "wsrefactor" / "rules" / "__init__.py").write_text("")
    monkeypatch.setattr(bench, "PYTHON", [sys.executable, "-S"])
    monkeypatch.setenv("PYTHONPATH", str(other))
    with pytest.raises(bench.BenchFailure, match="would run .*other"):
        bench.check_importable(tmp_path)


def test_repo_corpus_copies_python_files_with_their_layout(tmp_path: Path) -> None:
    source = tmp_path / "project"
    (source / "app" / "routers").mkdir(parents=True)
    (source / "app" / "routers" / "ws.py").write_text("x = 1\n")
    (source / "README.md").write_text("docs\n")
    (source / ".git").mkdir()
    (source / ".git" / "hook.py").write_text("y = 2\n")
    out = bench.repo_corpus(source, tmp_path / "dest")
    assert [p.relative_to(out).as_posix() for p in bench._files(out)] == ["app/routers/ws.py"]
    assert (source / "app" / "routers" / "ws.py").read_text() == "x = 1\n"  # the source is untouched


def test_repo_that_is_not_a_directory_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        bench.main(["--repo", str(tmp_path / "missing")])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "--repo" in err and "not a directory" in err
