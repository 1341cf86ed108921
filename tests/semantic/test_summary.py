"""``wsrefactor.semantic.summary``: per-module summaries, their resolution over the project, and
the facts each file is handed (``analyses.facts``, ``ProjectCalls``)."""

from __future__ import annotations

import ast
import textwrap
import time
from dataclasses import replace
from pathlib import Path

from tests.rules._projects import line_of, project
from wsrefactor.crossmodule import project_facts, summarize_file
from wsrefactor.semantic import Analyses
from wsrefactor.semantic.server import ServerModel
from wsrefactor.semantic.summary import (
    EMPTY,
    ModuleSummary,
    ProjectCalls,
    resolve,
    summarize,
    using,
)

ENDPOINT = """
    from fastapi import FastAPI, WebSocket

    from app import manager

    app = FastAPI()


    @app.websocket("/ws")
    async def ws(websocket: WebSocket):
        await websocket.accept()
        await manager.handle(websocket, room="r")
"""
INIT = """
    from app.core import manager
"""
CORE = """
    from app.io import pump


    class Manager:
        def __init__(self):
            self.active = []

        async def handle(self, websocket, room):
            self.active.append(websocket)
            await pump(websocket)


    manager = Manager()
"""
IO = """
    async def pump(sock):
        while True:
            data = await sock.receive_text()
            await sock.send(data)
"""


def _summary(root: Path, rel: str) -> ModuleSummary:
    found = summarize_file(str(root / rel), str(root), None, None)
    assert found is not None
    return found


def _app(tmp_path: Path) -> Path:
    return project(tmp_path, {"app/__init__.py": INIT, "app/api.py": ENDPOINT, "app/core.py": CORE, "app/io.py": IO})


def test_a_module_summary_records_parameters_effects_forwards_and_instances(tmp_path):
    root = _app(tmp_path)
    core = _summary(root, "app/core.py")
    assert core.module == "app.core"
    handle = next(f for f in core.functions if f.name == "app.core.Manager.handle")
    assert handle.params == ("self", "websocket", "room") and handle.skip == 1
    assert ("websocket", "register") in handle.effects
    assert [(e.source, e.target, e.index) for e in handle.forwards] == [("websocket", "app.io.pump", 0)]
    assert ("app.core.manager", "app.core.Manager") in core.instances
    io = _summary(root, "app/io.py")
    (pump,) = io.functions
    assert pump.effects == (("sock", "receive"),) and pump.plain_sends == ("sock",)
    api = _summary(root, "app/api.py")
    assert [(e.source, e.target, e.keyword) for e in api.passes] == [("conn:asgi", "app.manager.handle", "")]
    assert ("app.api.manager", "app.manager") in api.aliases
    assert ("app.manager", "app.core.manager") in _summary(root, "app/__init__.py").aliases


def test_connections_flow_forward_through_a_re_export_an_instance_and_a_second_module(tmp_path):
    root = _app(tmp_path)
    facts = resolve(_summary(root, p) for p in ("app/__init__.py", "app/api.py", "app/core.py", "app/io.py"))
    core, io = facts[str(root / "app/core.py")], facts[str(root / "app/io.py")]
    assert core.connections == (("Manager.handle", "websocket", "asgi"),)
    assert io.connections == (("pump", "sock", "asgi"),)
    assert core.sources == io.sources == (f"{root / 'app/api.py'}:{line_of(ENDPOINT, 'manager.handle')}",)


def test_effects_flow_backward_and_a_generic_send_counts_on_a_connection(tmp_path):
    root = _app(tmp_path)
    facts = resolve(_summary(root, p) for p in ("app/__init__.py", "app/api.py", "app/core.py", "app/io.py"))
    api = facts[str(root / "app/api.py")]
    callee = api.callee("app.manager.handle")
    assert callee is not None and callee.where == f"{root / 'app/core.py'}:8"
    assert api.effects_of("app.manager.handle", False, 0) == {"register", "receive", "send"}
    assert api.effects_of("app.manager.handle", False, 1) == frozenset()  # ``room``


def test_server_model_sees_the_parameter_another_module_hands_a_connection(tmp_path):
    root = _app(tmp_path)
    facts = resolve(_summary(root, p) for p in ("app/__init__.py", "app/api.py", "app/core.py", "app/io.py"))
    path = str(root / "app/io.py")
    text = (root / "app/io.py").read_text()
    with using(facts):
        server = Analyses(ast.parse(text), text, path)(ServerModel)
        assert [(s.kind, s.method) for s in server.sites] == [("receive", "receive_text"), ("send", "send")]
    assert ServerModel.compute(Analyses(ast.parse(text), text, path)).sites == []  # outside a run: nothing


def test_project_calls_name_the_callee_as_the_summary_did(tmp_path):
    root = _app(tmp_path)
    facts = resolve(_summary(root, p) for p in ("app/__init__.py", "app/api.py", "app/core.py", "app/io.py"))
    path = str(root / "app/api.py")
    text = (root / "app/api.py").read_text()
    tree = ast.parse(text)
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "handle")
    with using(facts):
        analyses = Analyses(tree, text, path)
        calls = analyses(ProjectCalls)
        from wsrefactor.semantic import SemanticModel

        scope = analyses(SemanticModel).scope_of(call)
        assert calls.effects(call, scope, call.args[0]) == {"register", "receive", "send"}
        assert calls.effects(call, scope, call.keywords[0].value) == frozenset()


def test_a_parameter_named_websocket_is_not_a_connection_by_its_name(tmp_path):
    endpoint = ENDPOINT.replace("await manager.handle(websocket, room=\"r\")", 'await manager.handle("ws", room="r")')
    root = project(tmp_path, {"app/__init__.py": INIT, "app/api.py": endpoint, "app/core.py": CORE, "app/io.py": IO})
    facts = resolve(_summary(root, p) for p in ("app/__init__.py", "app/api.py", "app/core.py", "app/io.py"))
    assert not any(f.connections for f in facts.values())
    assert str(root / "app/io.py") not in facts  # nothing reaches ``pump`` and it calls nothing


def test_absolute_imports_resolve_by_a_unique_dotted_suffix(tmp_path):
    files = {"src/app/__init__.py": "", "src/app/api.py": ENDPOINT.replace("from app import manager",
                                                                           "from app.core import manager"),
             "src/app/core.py": CORE, "src/app/io.py": IO}
    root = project(tmp_path, files)
    facts = resolve(_summary(root, p) for p in files)
    assert facts[str(root / "src/app/core.py")].connections == (("Manager.handle", "websocket", "asgi"),)
    # the same suffix twice (two copies of the package): ambiguous, so nothing is resolved
    root2 = project(tmp_path / "two", {**files, **{p.replace("src/", "lib/"): s for p, s in files.items()}})
    facts2 = resolve(_summary(root2, p) for p in [*files, *(p.replace("src/", "lib/") for p in files)])
    assert not any(f.connections for f in facts2.values())


def test_the_run_summarizes_pass_through_modules_and_callers_beyond_the_first_round(tmp_path):
    relay = """
        from app import io


        async def forward(link):
            await io.pump(link)
    """
    endpoint = ENDPOINT.replace("from app import manager", "from app import relay").replace(
        'await manager.handle(websocket, room="r")', "await relay.forward(websocket)")
    root = project(tmp_path, {"app/__init__.py": "", "app/api.py": endpoint, "app/relay.py": relay, "app/io.py": IO})
    from tests.rules._projects import findings  # the run as a user runs it

    found = findings(root, "WS102")
    assert [(p, n) for p, n, _ in found] == [("app/io.py", 3)]


def test_facts_digest_changes_with_what_the_file_is_told(tmp_path):
    root = _app(tmp_path)
    paths = ("app/__init__.py", "app/api.py", "app/core.py", "app/io.py")
    before = resolve(_summary(root, p) for p in paths)[str(root / "app/io.py")]
    (root / "app/core.py").write_text(textwrap.dedent(CORE).replace("await pump(websocket)", "pass"))
    after = resolve(_summary(root, p) for p in paths)
    assert str(root / "app/io.py") not in after and before and before.digest() != EMPTY.digest()


def test_resolution_is_linear_in_a_long_chain_of_modules(tmp_path):
    """300 modules each handing the connection to the next: every one learns it, quickly."""
    count = 300
    files = {"pkg/__init__.py": "", "pkg/api.py": ENDPOINT.replace("from app import manager",
                                                                   "from pkg import m0 as manager").replace(
        'await manager.handle(websocket, room="r")', "await manager.handle(websocket)")}
    for i in range(count):
        nxt = f"from pkg import m{i + 1}\n\n\nasync def handle(ws):\n    await m{i + 1}.handle(ws)\n"
        files[f"pkg/m{i}.py"] = nxt if i + 1 < count else "async def handle(ws):\n    await ws.receive_text()\n"
    root = project(tmp_path, files)
    summaries = [summarize(_analyses(root / p), str(root)) for p in files]
    start = time.perf_counter()
    facts = resolve(summaries)
    assert time.perf_counter() - start < 5
    assert all(facts[str(root / f"pkg/m{i}.py")].connections == (("handle", "ws", "asgi"),) for i in range(count))


def test_project_facts_reads_other_files_only_with_project_scope(tmp_path):
    from dataclasses import replace

    from wsrefactor.config import Config
    from wsrefactor.registry import load_rules
    from wsrefactor.runner import Job
    from wsrefactor.selection import Selection

    root = _app(tmp_path)
    io = str(root / "app/io.py")
    for scope, told in (("paths", False), ("project", True)):
        job = Job(replace(Config(), root=str(root), cross_file_scope=scope),
                  Selection(("WS102",), (), tuple(load_rules(()))))
        assert (io in project_facts([io], job, 1)) is told


def _analyses(path: Path) -> Analyses:
    text = path.read_text()
    return Analyses(ast.parse(text), text, str(path))


def test_caller_side_effects_through_an_annotated_dependency(tmp_path):
    """WS104's question (issue #12 "Misses" 6/WS104 across modules): ``await ws_manager.connect(ws)``
    where ``ws_manager: Annotated[ChatManager, Depends(...)]`` and ``connect`` (another module)
    accepts and registers the connection."""
    endpoint = """
        from typing import Annotated

        from fastapi import APIRouter, Depends, WebSocket

        from .manager import ChatManager, get_manager

        router = APIRouter()


        @router.websocket("/ws")
        async def ws(websocket: WebSocket, ws_manager: Annotated[ChatManager, Depends(get_manager)]):
            await ws_manager.connect("u", websocket)
    """
    manager = """
        class ChatManager:
            def __init__(self):
                self.connections = {}

            async def connect(self, user, websocket):
                await websocket.accept()
                self.connections.setdefault(user, set()).add(websocket)


        def get_manager():
            return ChatManager()
    """
    root = project(tmp_path, {"app/__init__.py": "", "app/ws.py": endpoint, "app/manager.py": manager})
    facts = resolve(_summary(root, p) for p in ("app/ws.py", "app/manager.py"))
    path = str(root / "app/ws.py")
    text = (root / "app/ws.py").read_text()
    tree = ast.parse(text)
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "connect")
    with using(facts):
        analyses = Analyses(tree, text, path)
        from wsrefactor.semantic import SemanticModel

        scope = analyses(SemanticModel).scope_of(call)
        assert analyses(ProjectCalls).effects(call, scope, call.args[1]) == {"accept", "register"}
        assert analyses(ProjectCalls).effects(call, scope, call.args[0]) == frozenset()


def test_a_check_parses_each_summarized_file_once_and_decides_as_the_two_pass_run(tmp_path, monkeypatch):
    """A check analyses the files it summarizes in the same worker pass (one ``ast.parse`` each);
    only a file the project tells something is analysed again, with its facts. The findings are
    those of a sharded run, which keeps the two passes apart."""
    from wsrefactor import runner
    from wsrefactor.config import Config
    from wsrefactor.registry import load_rules
    from wsrefactor.runner import Job, execute
    from wsrefactor.selection import Selection

    root = _app(tmp_path)
    job = Job(replace(Config(), root=str(root)), Selection(("WS",), (), tuple(load_rules(()))))
    files = sorted(str(p) for p in root.rglob("*.py"))
    facts = project_facts(files, job, 1)
    told = [p for p in files if facts.get(p)]
    assert told and len(told) < len(files)
    parsed: list[str] = []
    real = runner._python_ast
    monkeypatch.setattr(runner, "_python_ast", lambda text, path: parsed.append(path) or real(text, path))
    run = execute([str(root)], job, jobs=1)
    assert sorted(parsed) == sorted(files + told)  # once each, twice for the files told something
    sharded = execute([str(root)], job, jobs=1, shard=(1, 1))
    assert [(f.path, f.line, f.code) for f in run.findings] == [(f.path, f.line, f.code) for f in sharded.findings]
    assert run.findings


def test_a_two_job_check_shares_one_pool_and_decides_as_one_job(tmp_path):
    """With two jobs the rounds and the rest of the per-file pass share one pool (the rest runs
    behind the rounds): the findings are exactly those of a one-job run and of a sharded run."""
    from wsrefactor.config import Config
    from wsrefactor.registry import load_rules
    from wsrefactor.runner import Job, execute
    from wsrefactor.selection import Selection

    root = _app(tmp_path)
    for n in range(6):  # files no round summarizes, analysed behind the rounds
        (root / f"app/plain{n}.py").write_text("import time\n\nasync def f():\n    time.sleep(1)\n")
    job = Job(replace(Config(), root=str(root)), Selection(("WS",), (), tuple(load_rules(()))))
    runs = [execute([str(root)], job, jobs=j, shard=s) for j, s in ((2, None), (1, None), (2, (1, 1)))]
    found = [[(f.path, f.line, f.code, f.message) for f in run.findings] for run in runs]
    assert found[0] == found[1] == found[2]
    assert {f[2] for f in found[0]} >= {"WS201", "WS104"}


def test_the_caller_round_finds_a_name_only_as_a_whole_word(tmp_path):
    """``_Modules.mentioning`` (which files the caller round reads): a name counts where it stands
    as a word, in any file encoding-compatible with UTF-8, and each file answers once per name."""
    from wsrefactor.crossmodule import _Modules

    files = {
        "word.py": "from app.hub import broadcast_all\nbroadcast_all(ws)\n",
        "longer.py": "broadcast_all_rooms = 1\nmy_broadcast_all = 2\n",
        "unicode.py": "café = 1\nbroadcast_all(café)\n",
        "other.py": "x = 1\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    paths = [str(tmp_path / name) for name in files]
    modules = _Modules(paths, str(tmp_path))
    found = modules.mentioning({"broadcast_all"}, paths)
    assert {Path(p).name for p in found} == {"word.py", "unicode.py"}
    assert modules.mentioning({"café"}, paths) == {str(tmp_path / "unicode.py")}
    assert modules.mentioning(set(), paths) == set()
    (tmp_path / "other.py").write_text("broadcast_all(ws)\n", encoding="utf-8")
    assert str(tmp_path / "other.py") not in modules.mentioning({"broadcast_all"}, paths)  # read once per run
