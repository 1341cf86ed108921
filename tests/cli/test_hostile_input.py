"""Hostile input: every broken file is one clear line naming it, and the run goes on.

Each case puts the hostile file next to a good-but-flawed file (a WS205 dangling task): the flaw
must still be reported (and fixed, for fix runs), the exit status must mean something (1 with
findings, 2 for configuration errors), and stderr must never hold a traceback.

"Read-only" (see the README's reliability section): a file nobody has a write bit on (``chmod a-w``),
or one the OS refuses to let us write. The mode counts even for root, whose ``os.access`` always
says yes, so a fixer running as root in CI still leaves a ``chmod 444`` file alone.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest

from tests.conftest import run_cli
from wsrefactor import runner, source
from wsrefactor.config import Config
from wsrefactor.engine import FixPolicy
from wsrefactor.runner import Job, execute, process_file
from wsrefactor.selection import Selection
from wsrefactor.testing import fix_source

DANGLING = "import asyncio\n\n\nasync def f(x):\n    asyncio.create_task(x())\n"
FIXED = fix_source(DANGLING, ["WS205"])
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def write(tmp: Path, name: str, data: str | bytes) -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def assert_clean_stderr(r) -> None:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr


def ws000_line(stdout: str, name: str) -> str:
    lines = [ln for ln in stdout.splitlines() if ln.startswith(f"{name}:") and " WS000 " in ln]
    assert len(lines) == 1, stdout
    return lines[0]


def check(tmp: Path, *extra: str):
    r = run_cli("check", ".", "--select", "WS", "--no-cache", *extra, cwd=tmp)
    assert_clean_stderr(r)
    return r


# --- one finding line per unreadable/unparsable file, and the good file is still reported ----

HOSTILE = {
    "syntax": (b"def handler(ws)\n    pass\n", "syntax error", 1),
    "syntax_late": (b"x = 1\ny = 2\nclass C:\n  def f(:\n", "syntax error", 4),
    "invalid_utf8": (b"x = '\xff\xfe'\n", "invalid utf-8 byte 0xff", 1),
    "invalid_utf8_late": (b"x = 1\ny = 2\nz = '\xc3\x28'\n", "invalid utf-8 byte 0xc3", 3),
    "bad_cookie": (b"# -*- coding: klingon -*-\nx = 1\n", "encoding", 1),
    "binary": (b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)) * 4, "binary file", 1),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_broken_file_is_one_ws000_line_and_run_goes_on(tmp_path, case):
    data, reason, line = HOSTILE[case]
    write(tmp_path, "bad.py", data)
    write(tmp_path, "good.py", DANGLING)
    r = check(tmp_path)
    assert r.returncode == 1
    found = ws000_line(r.stdout, "bad.py")
    assert found.startswith(f"bad.py:{line}:") and reason in found, found
    assert "good.py:5:5: WS205" in r.stdout
    assert max(map(len, r.stdout.splitlines())) < 300  # no source dump in the message


def test_empty_files_are_fine(tmp_path):
    write(tmp_path, "empty.py", b"")
    write(tmp_path, "__init__.py", b"")
    write(tmp_path, "good.py", DANGLING)
    r = check(tmp_path)
    assert r.returncode == 1 and "WS000" not in r.stdout and "good.py:5:5: WS205" in r.stdout
    r = run_cli("fix", ".", "--select", "WS", "--unsafe-fixes", "--no-cache", cwd=tmp_path)
    assert_clean_stderr(r)
    assert r.returncode == 0 and (tmp_path / "empty.py").read_bytes() == b""
    assert (tmp_path / "good.py").read_text() == FIXED


def test_directory_named_like_a_module_is_walked_not_read(tmp_path):
    write(tmp_path, "x.py/inner.py", DANGLING)
    write(tmp_path, "good.py", DANGLING)
    r = check(tmp_path)
    assert r.returncode == 1 and "WS000" not in r.stdout
    assert "x.py/inner.py:5:5: WS205" in r.stdout and "good.py:5:5: WS205" in r.stdout
    # Named explicitly it is a directory too; the in-process reader says so if one slips through.
    r = run_cli("check", "x.py", "--select", "WS", "--no-cache", cwd=tmp_path)
    assert r.returncode == 1 and "x.py/inner.py:5:5: WS205" in r.stdout
    result = process_file(str(tmp_path / "x.py"), _job())
    assert [f.message for f in result.findings] == ["cannot read: is a directory, not a file"] or [
        f.message for f in result.findings
    ] == ["is a directory, not a file"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_dangling_symlink_and_symlink_loop(tmp_path):
    os.symlink(tmp_path / "nowhere.py", tmp_path / "dangling.py")
    os.symlink(tmp_path / "loop_b.py", tmp_path / "loop_a.py")
    os.symlink(tmp_path / "loop_a.py", tmp_path / "loop_b.py")
    write(tmp_path, "good.py", DANGLING)
    r = check(tmp_path)
    assert r.returncode == 1
    assert "file not found" in ws000_line(r.stdout, "dangling.py")
    assert "symlink loop" in ws000_line(r.stdout, "loop_a.py")
    assert "symlink loop" in ws000_line(r.stdout, "loop_b.py")
    assert "good.py:5:5: WS205" in r.stdout
    r = run_cli("fix", ".", "--select", "WS", "--unsafe-fixes", "--no-cache", cwd=tmp_path)
    assert_clean_stderr(r)
    assert (tmp_path / "good.py").read_text() == FIXED
    assert os.path.islink(tmp_path / "dangling.py") and not os.path.exists(tmp_path / "nowhere.py")


@pytest.mark.skipif(IS_ROOT or not hasattr(os, "geteuid"), reason="root can read anything")
def test_unreadable_file_real_permissions(tmp_path):
    bad = write(tmp_path, "secret.py", DANGLING)
    write(tmp_path, "good.py", DANGLING)
    bad.chmod(0)
    try:
        r = check(tmp_path)
    finally:
        bad.chmod(0o644)
    assert r.returncode == 1 and "permission denied" in ws000_line(r.stdout, "secret.py")
    assert "good.py:5:5: WS205" in r.stdout


def _job(fix: bool = False) -> Job:
    cfg = Config(select=("WS",), cache=False)
    return Job(cfg, Selection.build(("WS",), (), runner.load_rules(())), fix=FixPolicy(unsafe=True) if fix else None)


def _deny(monkeypatch, victim: str, err: int = errno.EACCES) -> None:
    """Make opening ``victim`` fail the way the OS would, even for root."""
    real_open = open

    def fake_open(file, *args, **kwargs):
        if os.path.basename(str(file)) == victim:
            raise OSError(err, os.strerror(err), str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)


def test_unreadable_file_in_process(tmp_path, monkeypatch):
    """Works as root too: the reader sees the PermissionError an unprivileged user would get."""
    write(tmp_path, "secret.py", DANGLING)
    good = write(tmp_path, "good.py", DANGLING)
    _deny(monkeypatch, "secret.py")
    run = execute([str(tmp_path)], _job(), jobs=1)
    by_file = {(Path(f.path).name, f.code): f for f in run.findings}
    assert by_file[("secret.py", "WS000")].message == "cannot read: permission denied"
    assert ("good.py", "WS205") in by_file
    run = execute([str(tmp_path)], _job(fix=True), jobs=1, write=True)
    assert str(good) in run.written and good.read_text() == FIXED


def test_file_deleted_between_discovery_and_reading(tmp_path, monkeypatch):
    gone = write(tmp_path, "gone.py", DANGLING)
    good = write(tmp_path, "good.py", DANGLING)
    real_run_files = runner.run_files

    def delete_then_run(paths, job, jobs, *args, **kwargs):
        gone.unlink()  # discovery has listed it; now it vanishes
        return real_run_files(paths, job, jobs, *args, **kwargs)

    monkeypatch.setattr(runner, "run_files", delete_then_run)
    run = execute([str(tmp_path)], _job(fix=True), jobs=1, write=True)
    msgs = [(Path(f.path).name, f.code, f.message) for f in run.findings]
    assert ("gone.py", "WS000", "cannot read: file not found (deleted, or a dangling symlink)") in msgs
    assert good.read_text() == FIXED and not gone.exists()
    # And directly, as a worker sees it:
    result = process_file(str(gone), _job())
    assert [f.code for f in result.findings] == ["WS000"]


def test_file_deleted_between_reading_and_writing_is_not_recreated(tmp_path, monkeypatch):
    gone = write(tmp_path, "gone.py", DANGLING)
    good = write(tmp_path, "good.py", DANGLING)
    real_write = runner._write_file  # files are written as their fixes arrive (streaming)

    def delete_then_write(run, path, *args, **kwargs):
        if path == str(gone):
            gone.unlink()
        return real_write(run, path, *args, **kwargs)

    monkeypatch.setattr(runner, "_write_file", delete_then_write)
    run = execute([str(tmp_path)], _job(fix=True), jobs=1, write=True)
    assert not gone.exists() and good.read_text() == FIXED
    assert any("gone.py" in m and "file not found" in m for m in run.messages), run.messages
    assert run.fixed.get("WS205") == 1


def test_file_changed_between_reading_and_writing_is_not_overwritten(tmp_path, monkeypatch):
    edited = write(tmp_path, "edited.py", DANGLING)
    good = write(tmp_path, "good.py", DANGLING)
    users_version = DANGLING + "\n# the user's edit, made while wsrefactor was thinking\n"
    real_write = runner._write_file  # files are written as their fixes arrive (streaming)

    def edit_then_write(run, path, *args, **kwargs):
        if path == str(edited):
            edited.write_text(users_version)
        return real_write(run, path, *args, **kwargs)

    monkeypatch.setattr(runner, "_write_file", edit_then_write)
    run = execute([str(tmp_path)], _job(fix=True), jobs=1, write=True)
    assert edited.read_text() == users_version  # kept, not overwritten
    assert good.read_text() == FIXED  # the others are still fixed
    assert any("edited.py" in m and "changed on disk" in m for m in run.messages), run.messages
    assert run.fixed.get("WS205") == 1 and run.written == [str(good)]
    assert not list(tmp_path.glob("*" + source.TMP_SUFFIX)) and not list(tmp_path.glob(".*" + source.TMP_SUFFIX))


def test_changed_file_reported_by_cli_with_exit_1(tmp_path, monkeypatch):
    """The same through the CLI entry point in-process: one line on stderr, exit 1."""
    from typer.testing import CliRunner

    from wsrefactor.cli import app

    edited = write(tmp_path, "edited.py", DANGLING)
    good = write(tmp_path, "good.py", DANGLING)
    real_write = runner._write_file  # files are written as their fixes arrive (streaming)

    def edit_then_write(run, path, *args, **kwargs):
        if path.endswith("edited.py"):
            edited.write_text("x = 1\n")
        return real_write(run, path, *args, **kwargs)

    monkeypatch.setattr(runner, "_write_file", edit_then_write)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["fix", ".", "--select", "WS", "--unsafe-fixes", "--no-cache", "-j", "1"])
    assert result.exit_code == 1, result.output
    assert "edited.py: changed on disk since it was read; not overwritten" in result.output
    assert good.read_text() == FIXED and edited.read_text() == "x = 1\n"


def test_read_only_file_when_fixing(tmp_path):
    """chmod 444: reported and left alone (even as root), the other files still fixed."""
    locked = write(tmp_path, "locked.py", DANGLING)
    good = write(tmp_path, "good.py", DANGLING)
    locked.chmod(0o444)
    try:
        r = run_cli("fix", ".", "--select", "WS", "--unsafe-fixes", "--no-cache", cwd=tmp_path)
    finally:
        locked.chmod(0o644)
    assert_clean_stderr(r)
    assert r.returncode == 1
    assert locked.read_text() == DANGLING and good.read_text() == FIXED
    err = [ln for ln in r.stderr.splitlines() if "locked.py" in ln]
    assert err == ["locked.py: cannot write: permission denied (read-only file)"], r.stderr
    assert "Fixed 1 finding in 1 file(s)" in r.stdout


def test_read_only_directory_when_fixing(tmp_path, monkeypatch):
    """A directory we may not create files in: the temporary file cannot be made, so no write."""
    locked = write(tmp_path, "locked/m.py", DANGLING)
    good = write(tmp_path, "good.py", DANGLING)
    real_mkstemp = source.tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):  # what EACCES on the directory looks like, even for root
        if dir and Path(dir).name == "locked":
            raise PermissionError(errno.EACCES, "Permission denied", dir)
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(source.tempfile, "mkstemp", mkstemp)
    run = execute([str(tmp_path)], _job(fix=True), jobs=1, write=True)
    assert locked.read_text() == DANGLING and good.read_text() == FIXED
    assert any("m.py" in m and "cannot write: permission denied" in m for m in run.messages)
    assert run.fixed.get("WS205") == 1


@pytest.mark.skipif(not IS_ROOT, reason="only root can hand files to other users")
def test_fix_as_root_keeps_owner_and_mode(tmp_path):
    path = write(tmp_path, "a.py", DANGLING)
    os.chown(path, 4321, 4321)
    path.chmod(0o640)
    r = run_cli("fix", ".", "--select", "WS", "--unsafe-fixes", "--no-cache", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    st = path.stat()
    assert path.read_text() == FIXED and (st.st_uid, st.st_gid) == (4321, 4321)
    assert stat.S_IMODE(st.st_mode) == 0o640


# --- encodings, BOM, CRLF, tabs, form feeds: checked, and fixed byte-for-byte elsewhere --------


def test_latin1_with_cookie_checked_and_fixed_in_latin1(tmp_path):
    text = "# -*- coding: latin-1 -*-\n# Grüße, café, ½\n" + DANGLING + "MSG = 'déjà vu'\n"
    path = write(tmp_path, "legacy.py", text.encode("latin-1"))
    write(tmp_path, "bad.py", b"def f(:\n")
    r = check(tmp_path)
    assert r.returncode == 1 and "legacy.py:7:5: WS205" in r.stdout and "bad.py:1:" in r.stdout
    r = run_cli("fix", ".", "--select", "WS", "--unsafe-fixes", "--no-cache", cwd=tmp_path)
    assert_clean_stderr(r)
    out = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        out.decode("utf-8")  # still latin-1, not silently re-encoded
    assert out.decode("latin-1") == fix_source(text, ["WS205"])
    assert b"caf\xe9" in out and b"d\xe9j\xe0" in out


@pytest.mark.parametrize(
    "name,data",
    [
        ("bom.py", b"\xef\xbb\xbf" + DANGLING.encode()),
        ("crlf.py", DANGLING.replace("\n", "\r\n").encode()),
        ("bom_crlf.py", b"\xef\xbb\xbf" + DANGLING.replace("\n", "\r\n").encode()),
    ],
)
def test_bom_and_crlf_kept_after_fixing(tmp_path, name, data):
    path = write(tmp_path, name, data)
    r = run_cli("fix", ".", "--select", "WS", "--unsafe-fixes", "--no-cache", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = path.read_bytes()
    expected = FIXED
    if b"\r\n" in data:
        expected = expected.replace("\n", "\r\n")
    assert out == (b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b"") + expected.encode()


def test_tabs_and_form_feeds_fixed_correctly(tmp_path):
    tabs = "import asyncio\n\n\nasync def f(x):\n\tif x:\n\t\tasyncio.create_task(x())\n"
    feeds = (
        "import asyncio\n\f\n\nasync def f(x):\n    asyncio.create_task(x())\n"
        "\f\nasync def g(x):\n    \f\n    asyncio.create_task(x())\n"
    )
    write(tmp_path, "tabs.py", tabs)
    write(tmp_path, "feeds.py", feeds)
    r = check(tmp_path)
    assert "tabs.py:6:3: WS205" in r.stdout
    assert "feeds.py:5:5: WS205" in r.stdout and "feeds.py:9:5: WS205" in r.stdout
    r = run_cli("fix", ".", "--select", "WS", "--unsafe-fixes", "--no-cache", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    for name, before in (("tabs.py", tabs), ("feeds.py", feeds)):
        after = (tmp_path / name).read_text()
        compile(after, name, "exec")
        assert after == fix_source(before, ["WS205"])
        assert after.count("_keep_task(asyncio.create_task(x()))") == before.count("asyncio.create_task")
    assert "\tif x:\n\t\t_keep_task(asyncio.create_task(x()))\n" in (tmp_path / "tabs.py").read_text()
    assert (tmp_path / "feeds.py").read_text().count("\f") == 3


@pytest.mark.slow
def test_hundred_thousand_line_files(tmp_path):
    """Completes, and prints one short line per finding (no source dumps)."""
    body = "".join(f"value_{i} = {i}  # line {i}\n" for i in range(99_990))
    write(tmp_path, "long_plain.py", body + "def broken(:\n")  # ast only: fast
    doc = '"""' + "".join(f"documentation line {i}\n" for i in range(99_990)) + '"""\n'
    write(tmp_path, "long_flawed.py", doc + DANGLING)  # libcst sees one huge token
    r = check(tmp_path)
    assert r.returncode == 1
    assert ws000_line(r.stdout, "long_plain.py").startswith("long_plain.py:99991:")
    assert "long_flawed.py:99996:5: WS205" in r.stdout
    assert len(r.stdout) < 1000 and len(r.stderr) < 1000


def test_too_deeply_nested_is_ws000_not_a_crash(tmp_path):
    write(tmp_path, "deep_ok.py", "x = " + "+".join(["1"] * 1500) + "\n" + DANGLING)
    write(tmp_path, "deep_absurd.py", "x = " + "+".join(["1"] * 20_000) + "\n" + DANGLING)
    write(tmp_path, "good.py", DANGLING)
    r = check(tmp_path, "-j", "2")
    assert r.returncode == 1, r.stderr
    assert "nested" in ws000_line(r.stdout, "deep_absurd.py")
    assert "deep_ok.py:6:5: WS205" in r.stdout and "good.py:5:5: WS205" in r.stdout


# --- broken configuration: exit 2, one line naming file and key, --debug for internals --------


@pytest.mark.parametrize(
    "config,needle",
    [
        ('[tool.wsrefactor]\nselect = ["WS"\n', "malformed TOML"),
        ("[tool.wsrefactor]\nunsafe_fixes = true\n", "unknown key 'unsafe_fixes'"),
        ("[tool.wsrefactor]\nexclude = 3\n", "'exclude'"),
        ('[tool.wsrefactor]\nignore = ["WS9999"]\n', "unknown rule code 'WS9999'"),
    ],
)
@pytest.mark.parametrize("command", ["check", "fix"])
def test_broken_config_exit_2_one_line(tmp_path, config, needle, command):
    write(tmp_path, "pyproject.toml", config)
    good = write(tmp_path, "good.py", DANGLING)
    r = run_cli(command, ".", "--unsafe-fixes" if command == "fix" else "--no-cache", cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "pyproject.toml" in lines[0] and needle in lines[0], r.stderr
    assert_clean_stderr(r)
    assert good.read_text() == DANGLING


CRASHY_PLUGIN = """
from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import ProjectRule, Rule

class CrashWhileVisiting(Rule):
    code = "TST777"
    name = "crash-while-visiting"
    category = "meta"
    fix_safety = FixSafety.NONE
    summary = "crashes on every file"
    def visit_Module(self, node):
        raise ZeroDivisionError("boom in a file")

class CrashInProjectPhase(ProjectRule):
    code = "TST778"
    name = "crash-in-project-phase"
    category = "meta"
    fix_safety = FixSafety.NONE
    summary = "crashes after all files were read"
    @classmethod
    def finalize(cls, *args, **kwargs):
        raise ZeroDivisionError("boom in the project phase")
"""


def test_internal_errors_are_one_line_exit_2_and_debug_shows_traceback(tmp_path):
    """Engine bugs, simulated by plugin rules that crash, never print a traceback by default."""
    plugin = write(tmp_path, "crashy.py", CRASHY_PLUGIN)
    write(tmp_path, "src/a.py", "x = 1\n")
    write(tmp_path, "src/good.py", DANGLING)
    # A crash inside one file: that file is named, the others are still reported, exit 2.
    write(tmp_path, "pyproject.toml", f'[tool.wsrefactor]\nselect = ["TST777", "WS205"]\nplugins = ["{plugin.name}"]\n')
    r = run_cli("check", "src", "--no-cache", "-j", "1", cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert_clean_stderr(r)
    assert "a.py: internal error while analysing: ZeroDivisionError: boom in a file" in r.stderr
    assert all(len(ln) < 400 for ln in r.stderr.splitlines())
    # A crash outside the per-file isolation: one line, and --debug shows the traceback.
    write(tmp_path, "pyproject.toml", f'[tool.wsrefactor]\nselect = ["TST778"]\nplugins = ["{plugin.name}"]\n')
    r = run_cli("check", "src", "--no-cache", cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert_clean_stderr(r)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "internal error: ZeroDivisionError: boom in the project phase" in lines[0]
    r = run_cli("--debug", "check", "src", "--no-cache", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback (most recent call last)" in r.stderr
    assert "ZeroDivisionError: boom in the project phase" in r.stderr


def test_json_output_for_hostile_tree_is_valid(tmp_path):
    for name, (data, _, _) in HOSTILE.items():
        write(tmp_path, f"{name}.py", data)
    write(tmp_path, "good.py", DANGLING)
    r = check(tmp_path, "--format", "json")
    data = json.loads(r.stdout)
    assert r.returncode == 1
    assert {d["filename"] for d in data if d["code"] == "WS000"} == {f"{n}.py" for n in HOSTILE}
    assert any(d["filename"] == "good.py" and d["code"] == "WS205" for d in data)


def test_valid_python_libcst_cannot_parse_is_named_honestly(tmp_path):
    """libcst 1.x rejects a parenthesized annotated target; that is not the file's fault. Rules
    that decide on the ast (WS205) still report it in every format; only fixes need libcst."""
    odd = DANGLING + "\n\ndef f():\n    (x): int\n    return 1\n"
    write(tmp_path, "odd.py", odd)
    write(tmp_path, "good.py", DANGLING)
    r = check(tmp_path)  # a plain check never parses libcst for WS205
    assert "odd.py:5:5: WS205" in r.stdout and "good.py:5:5: WS205" in r.stdout and r.returncode == 1
    data = json.loads(check(tmp_path, "--format", "json").stdout)
    odd_found = {(d["code"], d["fix"] is None) for d in data if d["filename"] == "odd.py"}
    assert odd_found == {("WS000", True), ("WS205", True)}
    [ws000] = [d for d in data if d["code"] == "WS000"]
    assert "libcst cannot parse this valid Python" in ws000["message"] and "syntax error" not in ws000["message"]
    r = run_cli("fix", ".", "--select", "WS", "--unsafe-fixes", "--no-cache", cwd=tmp_path)
    line = ws000_line(r.stdout, "odd.py")
    assert "libcst cannot parse this valid Python" in line and "no fix" in line
    assert (tmp_path / "odd.py").read_text() == odd and (tmp_path / "good.py").read_text() == FIXED
