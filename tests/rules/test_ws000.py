"""WS000 parse-error: a file Python cannot parse is reported where the parser stopped, with the
parser's message, and the run goes on with the other files."""

from __future__ import annotations

from tests.conftest import run_cli
from tests.rules._semantic_paths import job, write
from wsrefactor.runner import process_file


def test_reported_at_the_parsers_line_and_column_with_its_message(tmp_path):
    path = write(tmp_path, "import asyncio\n\ndef handler(:\n    pass\n")
    result = process_file(str(path), job("WS"))
    assert [(f.code, f.line, f.column, f.message) for f in result.findings] == [
        ("WS000", 3, 13, "syntax error: invalid syntax")
    ]


def test_undecodable_bytes_are_a_parse_error_not_a_crash(tmp_path):
    path = tmp_path / "latin.py"
    path.write_bytes(b"# -*- coding: utf-8 -*-\nname = '\xff\xfe'\n")
    result = process_file(str(path), job("WS"))
    assert result.internal_error is None
    assert [f.code for f in result.findings] == ["WS000"]


def test_the_other_files_are_still_checked(tmp_path):
    write(tmp_path, "def broken(:\n", name="broken.py")
    write(tmp_path, "import time\n\nasync def tick():\n    time.sleep(1)\n", name="blocking.py")
    out = run_cli("check", "--no-cache", "--select", "WS", ".", cwd=tmp_path)
    assert out.returncode == 1
    assert "broken.py:1:12: WS000" in out.stdout and "blocking.py:4:5: WS201" in out.stdout
