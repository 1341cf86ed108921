"""A function's length is its real span (``ast``), the same in the gate, WS302 and the dashboard.

radon's ``endline`` is the line the last body statement *starts* on, and stays at the ``def``
line when the body ends with an ``assert`` (radon's visitor records no line for it): a 142-line
decorated async test measured 1 line. :func:`wsrefactor.complexity.measure` corrects it in one
place; these tests compare it with ``ast`` on every function of a real corpus (the standard
library's packages by default, the whole standard library with ``WSREFACTOR_FULL_STDLIB=1``).
"""

from __future__ import annotations

import ast
import json
import os
import sysconfig
import textwrap
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pytest
from radon.complexity import add_inner_blocks, cc_visit_ast
from typer.testing import CliRunner

import wsrefactor.commands.gate  # noqa: F401 - registers the command
import wsrefactor.commands.report as report_mod
from wsrefactor.cli import app
from wsrefactor.complexity import ComplexityError, measure

STDLIB = Path(sysconfig.get_paths()["stdlib"])
PACKAGES = ("unittest", "asyncio", "xml", "importlib", "lib2to3", "multiprocessing", "ctypes", "concurrent")


def _corpus() -> list[Path]:
    if os.environ.get("WSREFACTOR_FULL_STDLIB") == "1":
        files = STDLIB.rglob("*.py")
    else:
        files = (p for pkg in PACKAGES for p in (STDLIB / pkg).rglob("*.py"))
    return sorted(p for p in files if "site-packages" not in p.parts)


def _definitions(tree: ast.AST) -> dict[tuple[int, int], ast.AST]:
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {(n.lineno, n.col_offset): n for n in ast.walk(tree) if isinstance(n, kinds)}


@pytest.mark.slow  # every function of the standard library through radon and ast
def test_length_is_the_ast_span_on_every_function_of_the_standard_library() -> None:
    files = _corpus()
    assert len(files) > 300
    blocks_seen = radon_wrong = 0
    for path in files:
        data = path.read_bytes()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(data)
        except SyntaxError:  # lib2to3's test data holds Python 2 on purpose
            with pytest.raises(ComplexityError):
                measure(data, str(path))
            continue
        defs = _definitions(tree)
        for block in measure(data, str(path)):
            node = defs[(block.lineno, block.col)]
            assert block.lineno == node.lineno  # the def line: decorators excluded
            assert block.length == node.end_lineno - node.lineno + 1, (path, block.name)
            blocks_seen += 1
        # radon's own numbers really are wrong on this corpus, and measure() no longer is
        for raw in add_inner_blocks(cc_visit_ast(tree)):
            node = defs[(raw.lineno, raw.col_offset)]
            radon_wrong += raw.endline != node.end_lineno
    assert blocks_seen > 5_000
    assert radon_wrong > 50


LONG_TEST = textwrap.dedent(
    """\
    import pytest


    @pytest.mark.asyncio
    @pytest.mark.parametrize("n", [1, 2])
    async def test_many_steps(client, n):
    """
) + "".join(f"    step{i} = await client.get('/{i}')\n" for i in range(12)) + "".join(
    f"    assert step{i}.status_code == 200\n" for i in range(12)
)


def test_decorated_async_test_ending_in_asserts_same_length_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """radon says 1 line; the gate, WS302 (text and JSON) and the dashboard all say 25."""
    (tmp_path / "test_long.py").write_text(LONG_TEST)
    # WS302 is off in test files by default (test-file-ignores): this test measures, so it turns that off.
    (tmp_path / "pyproject.toml").write_text(
        "[tool.wsrefactor]\ntest-file-ignores = []\n\n[tool.wsrefactor.WS302]\nmax-lines = 20\n"
    )
    monkeypatch.chdir(tmp_path)
    raw = [b for b in add_inner_blocks(cc_visit_ast(ast.parse(LONG_TEST))) if b.name == "test_many_steps"]
    assert raw[0].endline - raw[0].lineno + 1 == 1  # the bug this guards against

    runner = CliRunner()
    gate = runner.invoke(app, ["gate", "test_long.py", "--max-lines", "20", "--max-cc", "50", "--format", "json"])
    assert gate.exit_code == 1, gate.output
    (violation,) = json.loads(gate.stdout)["violations"]
    assert (violation["metric"], violation["value"], violation["lineno"]) == ("length", 25, 6)

    text = runner.invoke(app, ["check", "test_long.py", "--select", "WS302", "--no-cache"])
    assert "test_long.py:6:1: WS302 function 'test_many_steps' is 25 lines long > 20" in text.stdout
    data = json.loads(runner.invoke(app, ["check", "test_long.py", "--select", "WS302", "--no-cache", "--format", "json"]).stdout)
    assert [(f["line"], f["message"]) for f in data] == [(6, "function 'test_many_steps' is 25 lines long > 20")]

    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    context = report_mod.build_context([], 1, {"test_long.py": LONG_TEST.encode()}, [], now, ["."])
    (hotspot,) = context["hotspots"]
    assert hotspot["length"] == 25
