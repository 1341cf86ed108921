"""``check --shard K/N`` + ``merge`` gives exactly the findings of one unsharded ``check``.

On ``fixtures/`` (every rule, WS303/WS304 among them) and on a synthetic project whose
cross-file duplicates are spread over the shards, with inline suppressions of cross-file findings
(used, unused, by prefix) whose WS001 only the merge can decide. In-process through the CLI app
(``typer.testing``) to keep it quick; the partition itself is checked across processes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import REPO
from wsrefactor.cli import _register_optional_commands, app
from wsrefactor.shard import select, shard_of

_register_optional_commands()

SERVICE = '''"""Service {i}."""
import logging

log = logging.getLogger(__name__)


class StoreError(Exception):
    pass


def event_{i}(item):
    return {{"id": item.id, "kind_{g}": item.kind, "created": item.created.isoformat()}}{noqa}


class Presence{i}:
    def __init__(self, redis):
        self.redis = redis

    def members(self, room):{ignore}
        if not self.redis:
            return self._local_members(room)
        try:
            return set(self.redis.smembers(f"presence:{{room}}"))
        except StoreError as exc:
            log.warning("lookup failed: %s", exc)
            return self._local_members(room)

    def _local_members(self, room):
        return set()
'''


def _project(root: Path, files: int = 24, groups: int = 5) -> Path:
    """Cross-file duplicates: WS303 shapes shared by every 5th file, one WS304 shape in all."""
    for i in range(files):
        pkg = root / f"pkg{i % 3}"
        pkg.mkdir(parents=True, exist_ok=True)
        (pkg / "__init__.py").touch()
        noqa = "  # noqa: WS303" if i == 3 else "  # wsrefactor: ignore[WS3]" if i == 7 else ""
        ignore = "  # wsrefactor: ignore[WS304, WS205]" if i == 11 else ""
        (pkg / f"service_{i}.py").write_text(SERVICE.format(i=i, g=i % groups, noqa=noqa, ignore=ignore))
    # a suppression of a cross-file rule that covers nothing: WS001 decided by the merge
    (root / "pkg0" / "quiet.py").write_text("x = 1  # wsrefactor: ignore[WS303]\n")
    return root


def _invoke(cwd: Path, *args: str) -> tuple[int, str]:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, list(args))
    finally:
        os.chdir(old)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout


def _sharded(cwd: Path, target: str, fmt: str, count: int, out: Path, *extra: str) -> list[Path]:
    outputs = []
    for k in range(1, count + 1):
        path = out / f"shard{k}.{fmt}"
        code, stdout = _invoke(cwd, "check", target, "--format", fmt, "--no-cache", "-j", "1", "-q",
                               "--shard", f"{k}/{count}", *extra)
        assert code in (0, 1), stdout
        path.write_text(stdout)
        outputs.append(path)
    return outputs


def _merged(cwd: Path, outputs: list[Path], fmt: str) -> tuple[int, str]:
    return _invoke(cwd, "merge", *map(str, outputs), "--format", fmt)


@pytest.mark.slow  # every fixture through four shards and merge, then unsharded: minutes on 2 cores
def test_fixtures_four_shards_merge_to_the_unsharded_json(tmp_path):
    work = tmp_path / "w"
    shutil.copytree(REPO / "fixtures", work / "fixtures")
    code, full = _invoke(work, "check", "fixtures", "--format", "json", "--no-cache", "-j", "1")
    outputs = _sharded(work, "fixtures", "json", 4, tmp_path)
    merged_code, merged = _merged(work, outputs, "json")
    expected = json.loads(full)
    assert {f["code"] for f in expected} >= {"WS303", "WS304"}  # the cross-file rules are in it
    assert json.loads(merged) == expected and merged_code == code == 1
    shard_files = [json.loads(p.read_text())["wsrefactor_shard"]["files"] for p in outputs]
    assert all(n > 0 for n in shard_files) and sum(shard_files) == len(list((work / "fixtures").rglob("*.py")))


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_cross_file_duplicates_and_their_suppressions_merge_exactly(tmp_path, fmt):
    root = _project(tmp_path / "proj")
    _, full = _invoke(root, "check", ".", "--format", fmt, "--no-cache", "-j", "1")
    outputs = _sharded(root, ".", fmt, 4, tmp_path)
    _, merged = _merged(root, outputs, fmt)
    assert json.loads(merged) == json.loads(full)
    if fmt == "json":
        findings = json.loads(full)
        codes = [f["code"] for f in findings]
        assert codes.count("WS304") == 23  # one of 24 copies suppressed
        assert 0 < codes.count("WS303") < 24  # two copies suppressed (noqa, prefix)
        unused = [f for f in findings if f["code"] == "WS001"]
        assert {(Path(f["filename"]).name, f["message"]) for f in unused} == {
            ("quiet.py", "unused suppression for WS303"),
            ("service_11.py", "unused suppression for WS205"),
        }
        # the copies of each shape really are spread over several shards
        groups = {}
        for f in findings:
            if f["code"] == "WS303":
                groups.setdefault(f["message"].split(" ")[0], set()).add(shard_of(f["filename"], str(root), 4))
        assert any(len(s) > 1 for s in groups.values())


def test_merge_from_another_checkout_directory(tmp_path):
    """Machines of a CI matrix may check out at different paths: merge maps the shards' paths."""
    first = _project(tmp_path / "a" / "proj")
    outputs = _sharded(first, ".", "json", 3, tmp_path)
    second = tmp_path / "b" / "elsewhere"
    shutil.copytree(first, second)
    _, full = _invoke(second, "check", ".", "--format", "json", "--no-cache", "-j", "1")
    _, merged = _merged(second, outputs, "json")
    assert json.loads(merged) == json.loads(full)


def test_missing_or_repeated_shard_is_an_error(tmp_path):
    root = _project(tmp_path / "proj", files=6)
    outputs = _sharded(root, ".", "json", 3, tmp_path)
    code, _ = _merged(root, outputs[:2], "json")
    assert code == 2
    code, _ = _merged(root, [outputs[0], outputs[0], outputs[1]], "json")
    assert code == 2
    code, _ = _invoke(root, "check", ".", "--shard", "5/4")
    assert code == 2


def test_partition_is_stable_across_processes_and_covers_every_file_once(tmp_path):
    files = [str(tmp_path / f"d{i % 7}" / f"m{i}.py") for i in range(200)]
    parts = [select(files, str(tmp_path), (k, 4)) for k in range(1, 5)]
    assert sorted(p for part in parts for p in part) == sorted(files)
    assert all(parts)
    code = (
        "import sys; from wsrefactor.shard import shard_of; "
        "print([shard_of(p, sys.argv[1], 4) for p in sys.argv[2:]])"
    )
    seen = set()
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path), *files[:30]],
            env=dict(os.environ, PYTHONHASHSEED=seed), capture_output=True, text=True, check=True,
        ).stdout
        seen.add(out)
    assert seen == {repr([shard_of(p, str(tmp_path), 4) for p in files[:30]]) + "\n"}


def test_gate_shards_together_report_every_violation(tmp_path):
    root = tmp_path / "w"
    shutil.copytree(REPO / "fixtures", root / "fixtures")
    _, full = _invoke(root, "gate", "fixtures", "--format", "json", "-j", "1")
    violations = []
    for k in range(1, 4):
        _, out = _invoke(root, "gate", "fixtures", "--format", "json", "-j", "1", "--shard", f"{k}/3")
        violations += json.loads(out)["violations"]
    key = lambda v: json.dumps(v, sort_keys=True)  # noqa: E731
    assert sorted(map(key, violations)) == sorted(map(key, json.loads(full)["violations"]))


def test_project_scope_context_facts_come_from_shard_one(tmp_path):
    """``cross-file-scope = "project"``: copies outside the checked paths still count (as in an
    unsharded run); their own findings are not reported."""
    root = tmp_path / "proj"
    _project(root / "src", files=8, groups=2)
    _project(root / "other", files=6, groups=2)
    (root / "pyproject.toml").write_text('[tool.wsrefactor]\ncross-file-scope = "project"\n')
    _, full = _invoke(root, "check", "src", "--format", "json", "--no-cache", "-j", "1")
    outputs = _sharded(root, "src", "json", 3, tmp_path)
    _, merged = _merged(root, outputs, "json")
    assert json.loads(merged) == json.loads(full)
    messages = [f["message"] for f in json.loads(full) if f["code"] == "WS304"]
    assert messages and all(f["filename"].startswith("src") for f in json.loads(full))
    assert any("other/" in m for m in messages)  # the context files' copies were counted


def test_one_cross_file_rule_selected(tmp_path):
    """WS304 alone records WS303's module facts too: merge accepts them."""
    root = _project(tmp_path / "proj", files=9)
    _, full = _invoke(root, "check", ".", "--select", "WS304", "--format", "json", "--no-cache", "-j", "1")
    outputs = _sharded(root, ".", "json", 2, tmp_path, "--select", "WS304")
    code, merged = _merged(root, outputs, "json")
    assert json.loads(merged) == json.loads(full) and code == 1


def _cross_module_project(root: Path, count: int = 12) -> Path:
    """Endpoints handing their websocket to managers of other modules (WS102 in the managers),
    send helpers of other modules called in loops (WS203 in the callers): each file's finding
    depends on files that mostly sit in other shards."""
    app = root / "app"
    app.mkdir(parents=True, exist_ok=True)
    (app / "__init__.py").touch()
    (app / "senders.py").write_text("async def push(conn, text):\n    await conn.send_text(text)\n")
    for i in range(count):
        (app / f"manager_{i}.py").write_text(
            f"class Manager{i}:\n    async def handle(self, websocket):\n"
            "        while True:\n            data = await websocket.receive_text()\n            print(data)\n\n\n"
            f"manager = Manager{i}()\n"
        )
        (app / f"api_{i}.py").write_text(
            "from fastapi import APIRouter, WebSocket\n\n"
            f"from app.manager_{i} import manager\nfrom app.senders import push\n\nrouter = APIRouter()\n\n\n"
            f'@router.websocket("/ws{i}")\nasync def ws(websocket: WebSocket):\n'
            "    await websocket.accept()  # wsrefactor: ignore[WS101]\n    await manager.handle(websocket)\n\n\n"
            "async def tell(rooms, text):\n    for r in rooms:\n        await push(rooms[r].conn, text)\n"
        )
    return root


def test_cross_module_facts_give_every_shard_the_unsharded_findings(tmp_path):
    """Every shard summarizes the same discovered files before it selects its own, so a file's
    cross-module findings do not depend on which shard checks it."""
    root = _cross_module_project(tmp_path / "proj")
    _, full = _invoke(root, "check", ".", "--format", "json", "--no-cache", "-j", "1")
    outputs = _sharded(root, ".", "json", 4, tmp_path)
    _, merged = _merged(root, outputs, "json")
    assert json.loads(merged) == json.loads(full)
    findings = json.loads(full)
    by_code = {c: sorted(Path(f["filename"]).name for f in findings if f["code"] == c) for c in ("WS102", "WS203")}
    assert by_code["WS102"] == sorted(f"manager_{i}.py" for i in range(12))
    assert by_code["WS203"] == sorted(f"api_{i}.py" for i in range(12))
    managers = {shard_of(str(root / "app" / f"manager_{i}.py"), str(root), 4) for i in range(12)}
    assert len(managers) > 1  # the managers really are spread over several shards
