"""Fixes add and remove imports as isort / ruff would: ``ruff check --select F401,F811,I001`` finds
nothing on fixed files that it did not find before (every fixture), and the unit cases below pin
the placement rules (sections, sorted position, joined ``from`` lines, project settings)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest

from tests.conftest import REPO, run_cli
from wsrefactor.imports import ImportStyle, add_import_statements, remove_unused

# Single-file fixture folders (``*.fixed.py`` goldens left out) and project cases (their ``src``).
FIXTURES = sorted(
    [p for p in (REPO / "fixtures").glob("WS*") if any(p.glob("*.py"))]
    + [p for p in (REPO / "fixtures").glob("WS*/*/src") if p.is_dir()]
)
RUFF_CODES = "F401,F811,I001"


def _ruff(cwd: Path) -> set[tuple[str, str, str]]:
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", RUFF_CODES,
         "--output-format", "json", "--exit-zero", "."],
        cwd=cwd, capture_output=True, text=True, check=True,
    )
    found = set()
    for d in json.loads(proc.stdout):
        found.add((Path(d["filename"]).relative_to(cwd).as_posix(), d["code"], d["message"]))
    return found


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.relative_to(REPO / "fixtures").as_posix())
def test_fixing_a_fixture_adds_no_import_problem(fixture: Path, tmp_path: Path) -> None:
    pytest.importorskip("ruff")
    work = tmp_path / "work"
    shutil.copytree(fixture, work, ignore=shutil.ignore_patterns("*.fixed.py", "__pycache__", "expected*"))
    before = _ruff(work)
    run_cli("fix", "--unsafe-fixes", "--no-cache", ".", cwd=work)
    assert any(True for _ in work.rglob("*.py"))
    after = _ruff(work)
    assert after - before == set()


def _add(src: str, wanted, style: ImportStyle | None = None, path: str | None = None) -> str:
    module = cst.parse_module(src)
    return add_import_statements(module, wanted, path, style or ImportStyle()).code


def test_stdlib_import_goes_into_the_stdlib_section_in_sorted_position() -> None:
    src = '"""Doc."""\nimport json\nimport time\n\nimport httpx\n\nfrom . import x\n\n\ndef f():\n    pass\n'
    out = _add(src, [("asyncio", None)])
    assert out == src.replace("import json\n", "import asyncio\nimport json\n")


def test_a_missing_section_is_created_in_isort_order() -> None:
    src = "import httpx\n\nfrom . import x\n\nX = 1\n"
    assert _add(src, [("asyncio", None)]) == "import asyncio\n\nimport httpx\n\nfrom . import x\n\nX = 1\n"
    src = "from __future__ import annotations\n\nfrom . import x\n"
    assert _add(src, [("asyncio", None)]) == (
        "from __future__ import annotations\n\nimport asyncio\n\nfrom . import x\n"
    )


def test_a_header_comment_stays_on_top() -> None:
    src = "# Copyright\nimport httpx\n"
    assert _add(src, [("asyncio", None)]) == "# Copyright\nimport asyncio\n\nimport httpx\n"


def test_plain_imports_come_before_from_imports_unless_from_first() -> None:
    src = "import os\nfrom typing import Any\n"
    assert _add(src, [("time", None)]) == "import os\nimport time\nfrom typing import Any\n"
    style = ImportStyle(from_first=True)
    src = "from typing import Any\nimport os\n"
    assert _add(src, [("asyncio", "Queue")], style) == (
        "from asyncio import Queue\nfrom typing import Any\nimport os\n"
    )


def test_from_names_join_the_existing_line_unless_force_single_line() -> None:
    src = "from asyncio import Queue, sleep\n"
    assert _add(src, [("asyncio", "QueueFull")]) == "from asyncio import Queue, QueueFull, sleep\n"
    single = _add(src, [("asyncio", "QueueFull")], ImportStyle(force_single_line=True))
    assert single == "from asyncio import Queue, sleep\nfrom asyncio import QueueFull\n"


def test_known_first_party_and_the_files_own_package(tmp_path: Path) -> None:
    src = "import os\n\nimport httpx\n"
    style = ImportStyle(known_first_party=frozenset({"chat"}))
    assert _add(src, [("chat.tasks", "spawn")], style) == (
        "import os\n\nimport httpx\n\nfrom chat.tasks import spawn\n"
    )
    pkg = tmp_path / "app"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    path = str(pkg / "mod.py")
    assert _add(src, [("app.tasks", "spawn")], ImportStyle(), path).endswith("\n\nfrom app.tasks import spawn\n")


def test_project_settings_are_read_from_pyproject(tmp_path: Path) -> None:
    from wsrefactor.imports import style_for

    (tmp_path / "pyproject.toml").write_text(
        '[tool.ruff.lint.isort]\nknown-first-party = ["chat"]\nforce-single-line = true\n'
    )
    (tmp_path / "sub").mkdir()
    style = style_for(str(tmp_path / "sub" / "m.py"))
    assert style.force_single_line and "chat" in style.known_first_party


def test_an_import_the_fix_left_unused_is_removed_and_others_stay() -> None:
    src = "import json\nimport time\n\nimport httpx\n\nx = json.dumps(httpx)\n"
    out = remove_unused(cst.parse_module(src), {"time", "json"}).code
    assert out == "import json\n\nimport httpx\n\nx = json.dumps(httpx)\n"
    # the first import removed: the file does not start with a blank line
    src = "import time\n\nimport httpx\n\nx = httpx\n"
    assert remove_unused(cst.parse_module(src), {"time"}).code == "import httpx\n\nx = httpx\n"
    # a name still mentioned (code, a string annotation) is kept
    kept = "import time\n\ndef f() -> 'time.struct_time':\n    pass\n"
    assert remove_unused(cst.parse_module(kept), {"time"}).code == kept
    noqa = "import time  # noqa: F401\n"
    assert remove_unused(cst.parse_module(noqa), {"time"}).code == noqa


def test_sleep_swap_replaces_the_import_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "chat.py").write_text(
        "import json\nimport time\n\nimport httpx\n\nfrom .models import Room\n\n\n"
        "async def f(ws):\n    time.sleep(1)\n    await ws.send_text(json.dumps([httpx, Room]))\n"
    )
    run_cli("fix", "--select", "WS201", "--no-cache", ".", cwd=tmp_path)
    assert (tmp_path / "chat.py").read_text() == (
        "import asyncio\nimport json\n\nimport httpx\n\nfrom .models import Room\n\n\n"
        "async def f(ws):\n    await asyncio.sleep(1)\n    await ws.send_text(json.dumps([httpx, Room]))\n"
    )


def test_a_joined_line_too_long_is_wrapped_as_ruff_wraps_it() -> None:
    src = "from pydantic import BaseModel, ConfigDict, Discriminator, Tag, TypeAdapter\n"
    out = _add(src, [("pydantic", "ValidationError")])
    assert out == (
        "from pydantic import (\n    BaseModel,\n    ConfigDict,\n    Discriminator,\n    Tag,\n"
        "    TypeAdapter,\n    ValidationError,\n)\n"
    )


def test_no_sections_keeps_one_block() -> None:
    src = "import httpx\nimport os\nfrom websockets.sync.server import serve\n"
    out = _add(src, [("asyncio", None)], ImportStyle(no_sections=True))
    assert out == "import asyncio\nimport httpx\nimport os\nfrom websockets.sync.server import serve\n"


def test_lines_after_imports_is_honoured_for_added_statements(tmp_path: Path) -> None:
    from wsrefactor.fixes import add_module_statements

    (tmp_path / "ruff.toml").write_text("[lint.isort]\nlines-after-imports = 2\n")
    module = cst.parse_module("import os\n\n\ndef f():\n    pass\n")
    out = add_module_statements(module, ["LIMIT = 1"], str(tmp_path / "m.py")).code
    assert out == "import os\n\n\nLIMIT = 1\n\n\ndef f():\n    pass\n"
