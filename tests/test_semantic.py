"""The semantic model (``wsrefactor.semantic``) and the rule path built on it (``SemanticRule``):
imports, scopes and bindings, value/type facts, the call graph, the engine-owned analysis cache,
and WS305 decided once — same findings with or without edits, fixed from the span, and a plain
check that never parses libcst."""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import libcst as cst

from tests.conftest import run_cli
from tests.rules._semantic_paths import no_libcst
from wsrefactor.config import Config
from wsrefactor.engine import FixPolicy, fix_text
from wsrefactor.registry import load_rules
from wsrefactor.runner import Job, process_file
from wsrefactor.selection import Selection
from wsrefactor.semantic import Analyses, CallGraph, Imports, SemanticModel
from wsrefactor.semantic.imports import dotted_name

REPO = Path(__file__).resolve().parent.parent
WS305 = REPO / "fixtures" / "WS305"


def _analyses(src: str) -> Analyses:
    text = textwrap.dedent(src).lstrip("\n")
    return Analyses(ast.parse(text), text, "m.py")


def _expr(src: str) -> ast.expr:
    return ast.parse(src, mode="eval").body


def _scope(model: SemanticModel, qualname: str):
    return next(s for s in model.scopes.scopes if s.qualname == qualname and s.kind == "function")


# -- imports -----------------------------------------------------------------------------------

IMPORTS = """
import os.path
import numpy as np
from .sibling import helper as h
from .. import pkg
try:
    import ujson as json
except ImportError:
    import json
if TYPE_CHECKING:
    from redis.asyncio import Redis
with suppress(ImportError):
    from orjson import dumps

def late():
    from time import sleep as nap
"""


def test_imports_every_binding_and_the_last_one():
    imports = _analyses(IMPORTS)(Imports)
    assert imports.meanings["json"] == ("ujson", "json")
    assert imports.resolve_all(_expr("json.loads")) == {"ujson.loads", "json.loads"}
    assert imports.resolve(_expr("json.loads")) == "json.loads"  # ImportTable's view: the last
    assert imports.resolve(_expr("np.array(x).T")) == "numpy.array.T"
    assert imports.resolve(_expr("os.path.join")) == "os.path.join"
    assert imports.resolve(_expr("nap")) == "time.sleep"
    assert imports.resolve(_expr("open")) == "builtins.open"
    assert imports.may_be(_expr("json.loads"), {"json.loads"})
    assert not imports.surely(_expr("json.loads"), {"json.loads"})


def test_imports_conditional_and_relative():
    imports = _analyses(IMPORTS)(Imports)
    by_local = {b.local: b for b in imports.bindings}
    assert by_local["Redis"].qualified == "redis.asyncio.Redis" and by_local["Redis"].conditional
    assert by_local["dumps"].conditional and by_local["dumps"].top
    assert not by_local["np"].conditional
    assert not by_local["nap"].top
    assert imports.resolve(_expr("h")) == ".sibling.helper"
    assert imports.resolve(_expr("pkg")) == "..pkg"
    assert Imports.absolute(".sibling.helper", "app.api") == "app.api.sibling.helper"
    assert Imports.absolute("..pkg", "app.api") == "app.pkg"
    assert Imports.absolute("redis", "app") == "redis"
    assert imports.imports_module("redis") and imports.imports_any(("orjson", "nothing"))
    assert not imports.imports_module("red")


def test_module_bindings_shadow_builtins():
    imports = _analyses("def open(p):\n    return p\nif X:\n    input = 1\n")(Imports)
    assert imports.resolve(_expr("open")) is None
    assert imports.resolve(_expr("input")) is None
    assert imports.resolve(_expr("print")) == "builtins.print"
    assert dotted_name(_expr("a.b().c[0].d")) == "a.b.c.d"


# -- scopes and bindings ---------------------------------------------------------------------------

SCOPES = """
from aiohttp import ClientSession
import redis.asyncio as aioredis

LIMIT = 10

class Base:
    shared = "base"

class Store(Base):
    kind = "store"

    def __init__(self, session: ClientSession, url):
        self.session = session
        self.client = aioredis.Redis.from_url(url)
        self.cache = {}
        self.count = 0
        self.count += 1

    async def get(self, key):
        global LIMIT
        LIMIT = 5
        data = await self.client.get(key)
        return [x for x in data if (n := x)]

    @staticmethod
    def tool(self):
        return self

def outer():
    value = "outer"
    def inner():
        return value
    return inner
"""


def test_scopes_bindings_and_self_attributes():
    model = _analyses(SCOPES)(SemanticModel)
    store = model.classes()["Store"]
    assert set(store.bindings) == {"kind", "__init__", "get", "tool"}
    assert set(store.attributes) == {"session", "client", "cache", "count"}
    assert [b.kind for b in store.attributes["count"]] == ["attribute", "attribute"]
    get = _scope(model, "Store.get")
    assert get.is_async and get.in_async and get.self_name == "self"
    assert _scope(model, "Store.tool").self_name is None  # a staticmethod has no self
    assert [b.kind for b in model.module.bindings["LIMIT"]] == ["assign", "assign"]  # global
    assert "n" in get.bindings  # a walrus binds in the function, not the comprehension
    comprehension = next(s for s in model.scopes.scopes if s.kind == "comprehension")
    assert set(comprehension.bindings) == {"x"} and comprehension.parent is get
    inner = _scope(model, "outer.inner")
    assert not inner.in_async
    (found,) = model.lookup("value", inner)
    assert found.scope.qualname == "outer" and isinstance(found.value, ast.Constant)
    # class bodies are not enclosing scopes of their methods
    assert model.lookup("kind", get) == []
    # attributes through a same-module base class
    assert [b.value.value for b in model.attribute_bindings(store, "shared")] == ["base"]


def test_scope_and_statement_of_a_node():
    model = _analyses(SCOPES)(SemanticModel)
    call = next(c for c, s in model.calls() if dotted_name(c.func) == "self.client.get")
    assert model.scope_of(call).qualname == "Store.get"
    stmt = model.statement_of(call)
    assert isinstance(stmt, ast.Assign) and stmt.targets[0].id == "data"


def test_value_and_type_facts():
    model = _analyses(SCOPES)(SemanticModel)
    get = _scope(model, "Store.get")
    assert model.type_of(_expr("self.session"), get) == "aiohttp.ClientSession"  # annotation, copied
    assert model.type_of(_expr("self.client"), get) == "redis.asyncio.Redis.from_url"  # constructor call
    assert model.type_of(_expr("self.cache"), get) is None
    init = _scope(model, "Store.__init__")
    assert model.type_of(_expr("session"), init) == "aiohttp.ClientSession"
    assert model.constant_string(_expr("self.kind"), get) == "store"
    assert model.constant_string(_expr("Store.kind"), model.module) == "store"
    assert model.constant_string(_expr("LIMIT"), get) is None  # reassigned


def test_annotations_optional_and_strings():
    src = """
    from typing import Optional
    import httpx

    class C:
        def __init__(self, a: Optional[httpx.Client], b: "httpx.AsyncClient | None", c: int):
            self.a, self.b = a, b
    """
    model = _analyses(src)(SemanticModel)
    init = _scope(model, "C.__init__")
    assert model.type_of(_expr("a"), init) == "httpx.Client"
    assert model.type_of(_expr("b"), init) == "httpx.AsyncClient"
    assert model.type_of(_expr("c"), init) == "builtins.int"
    assert model.type_of(_expr("self.a"), init) is None  # unpacked: no value recorded


def test_call_graph():
    src = """
    class Store:
        def get(self):
            return self.load()

        def load(self):
            return helper()

    class Service:
        def __init__(self):
            self.store = Store()

        @classmethod
        def make(cls):
            return cls()

        def run(self):
            data = self.store.get()
            return [Store.load(x) for x in data]

    def helper():
        return other.unknown()
    """
    analyses = _analyses(src)
    model = analyses(SemanticModel)
    graph = analyses(CallGraph)
    names = {s: s.qualname for s in model.scopes.scopes}
    callees = {names[k]: [names[c] for c in graph.callees(k)] for k in graph.edges}
    assert callees == {  # ``Store()`` runs no ``__init__`` of this module: no edge
        "Store.get": ["Store.load"],
        "Store.load": ["helper"],
        "Service.make": ["Service.__init__"],
        "Service.run": ["Store.get", "Store.load"],
    }
    run = _scope(model, "Service.run")
    assert [s.qualname for s in graph.reachable(run)] == ["Store.get", "Store.load", "helper"]
    assert [s.qualname for s in graph.callers(_scope(model, "helper"))] == ["Store.load"]


def test_analyses_are_computed_once_and_shared():
    analyses = _analyses(SCOPES)
    before = Analyses.computed
    model = analyses(SemanticModel)
    assert analyses(SemanticModel) is model
    assert analyses(Imports) is model.imports
    assert analyses(CallGraph).model is model
    assert Analyses.computed - before == 3  # Imports, SemanticModel, CallGraph: once each


def test_byte_offsets_become_character_columns():
    analyses = _analyses("x = 'é' + 'redis'\n")
    node = ast.parse(analyses.text).body[0].value.right
    assert node.col_offset == 11  # bytes
    assert analyses.char_column(1, node.col_offset) == 10
    assert analyses.segment(node) == "'redis'"


# -- WS305 on the semantic path --------------------------------------------------------------------

RULE = load_rules(())["WS305"]
CASES = sorted(p for p in WS305.glob("*.py") if not p.name.endswith(".fixed.py"))
EXAMPLES = [e.source for e in RULE.INVALID]


def _job(want_edits: bool = False, fix: FixPolicy | None = None) -> Job:
    return Job(Config(), Selection(("WS305",), (), tuple(load_rules(()))), fix=fix, want_edits=want_edits)


def _key(findings):
    return [
        (f.code, f.line, f.column, f.end_line, f.end_column, f.message, f.stmt_line, f.stmt_end_line,
         f.context, f.fix is not None)
        for f in findings
    ]


def _sources(tmp_path: Path) -> list[Path]:
    out = list(CASES)
    for i, source in enumerate(EXAMPLES):
        path = tmp_path / f"example_{i}.py"
        path.write_text(source, encoding="utf-8")
        out.append(path)
    return out


def test_same_findings_with_and_without_edits(tmp_path):
    for path in _sources(tmp_path):
        plain = process_file(str(path), _job())
        edits = process_file(str(path), _job(want_edits=True))
        assert _key(plain.findings) == _key(edits.findings), path.name
        for finding in edits.findings:
            assert finding.fix is None or finding.fix.edits, "a fixable finding carries its edits"
    assert any(process_file(str(p), _job()).findings for p in CASES)


def test_plain_check_never_parses_libcst(tmp_path, monkeypatch):
    sources = _sources(tmp_path)
    no_libcst(monkeypatch)
    results = [process_file(str(p), _job()) for p in sources]
    assert [r.internal_error for r in results] == [None] * len(sources)
    found = [f for r in results for f in r.findings]
    assert len(found) >= len(EXAMPLES) + 2
    assert all(f.code == "WS305" for f in found)
    # the spy does catch the path that needs libcst (edits wanted)
    with_edits = process_file(str(sources[-1]), _job(want_edits=True))
    assert "libcst parsed" in (with_edits.internal_error or "")


def test_fix_from_span_equals_goldens():
    for case in CASES:
        golden = case.with_name(case.stem + ".fixed.py")
        text = case.read_bytes().decode("utf-8")
        outcome = fix_text(str(case), text, [RULE], Config(), FixPolicy())
        assert outcome.text == (golden.read_bytes().decode("utf-8") if golden.exists() else text), case.name


def test_class_attribute_script_found_at_the_string(tmp_path):
    path = tmp_path / "limiter.py"
    path.write_text(EXAMPLES[-1], encoding="utf-8")
    (finding,) = process_file(str(path), _job()).findings
    assert (finding.line, finding.column, finding.stmt_line) == (2, 18, 2)
    assert finding.context.startswith("RateGate:lua_script = ")


def test_text_json_and_sarif_agree(tmp_path):
    for source in _sources(tmp_path)[-2:]:
        (tmp_path / "scan").mkdir(exist_ok=True)
        (tmp_path / "scan" / source.name).write_bytes(source.read_bytes())
    args = ("check", "--select", "WS305", "--no-cache", "scan")
    text = run_cli(*args, cwd=tmp_path).stdout
    as_json = json.loads(run_cli(*args, "--format", "json", cwd=tmp_path).stdout)
    sarif = json.loads(run_cli(*args, "--format", "sarif", cwd=tmp_path).stdout)
    from_text = sorted(
        (Path(parts[0]).name, int(parts[1]), int(parts[2]))
        for line in text.splitlines() if ": WS305 " in line
        for parts in [line.split(":")[:3]]
    )
    from_json = sorted((Path(f["filename"]).name, f["line"], f["column"]) for f in as_json)
    from_sarif = sorted(
        (Path(loc["artifactLocation"]["uri"]).name, loc["region"]["startLine"], loc["region"]["startColumn"])
        for r in sarif["runs"][0]["results"]
        for loc in [r["locations"][0]["physicalLocation"]]
    )
    assert from_text == from_json == from_sarif
    assert len(from_text) >= 2
    assert all(f["fix"] is not None for f in as_json)


def test_ws305_span_lookup_with_parentheses_and_non_ascii(tmp_path):
    """The libcst node is found from the ast span even after non-ASCII text and inside parens."""
    path = tmp_path / "m.py"
    path.write_text(
        'def f(r):\n'
        '    return r.eval(("redis.call(\'GET\', KEYS[1])  -- é"\n'
        '                   " .. ARGV[1]"), 1, "k")\n'
        'def g(r):\n'
        '    x = "é"; return r.eval(  ("return redis.call(\'GET\', KEYS[1]) -- ü"), 0)\n',
        encoding="utf-8",
    )
    plain = process_file(str(path), _job()).findings
    edits = process_file(str(path), _job(want_edits=True)).findings
    assert _key(plain) == _key(edits) and [f.line for f in plain] == [2, 5]
    assert (plain[0].column, plain[0].end_line) == (len("    return r.eval((") + 1, 3)
    assert plain[1].column == len('    x = "é"; return r.eval(  (') + 1
    assert all(f.fix is not None and f.fix.edits for f in edits)


def test_ws305_names_are_looked_up_where_the_call_reads_them(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        "SCRIPT = \"return redis.call('GET', KEYS[1])\"\n"
        "def shadowed(r, SCRIPT):\n"
        "    return r.eval(SCRIPT, 1, 'k')  # the parameter, not the module constant\n"
        "def closure(r):\n"
        "    inner = \"return redis.call('DEL', KEYS[1])\"\n"
        "    def run():\n"
        "        return r.eval(inner, 1, 'k')\n"
        "    return run\n",
        encoding="utf-8",
    )
    assert [f.line for f in process_file(str(path), _job()).findings] == [5]


def test_declared_gate_keeps_detect_away():
    """``tokens`` and ``requires_any_import`` are checked before ``detect`` runs at all."""
    from wsrefactor.rule import SemanticRule
    from wsrefactor.semantic.detection import detect_at

    class Calls(SemanticRule):
        code, name, summary = "WS999", "calls", "a call"
        tokens = ("(",)
        requires_any_import = ("redis",)
        ran: list[str] = []

        @classmethod
        def detect(cls, analyses, options):
            cls.ran.append(analyses.path)
            for call, _ in analyses(SemanticModel).calls():
                yield detect_at(analyses, call, cls.summary)

    assert Calls.detections(_analyses("import json\njson.dumps(1)\n"), {}) == []
    assert Calls.detections(_analyses("import redis\nx = 1\n"), {}) == []  # no token: detect never ran
    assert Calls.ran == []
    found = Calls.detections(_analyses("if X:\n    from redis import asyncio\nasyncio.Redis()\n"), {})
    assert [(d.line, d.column, d.end_column) for d in found] == [(3, 1, 16)] and len(Calls.ran) == 1


def test_imports_answer_as_the_libcst_import_table():
    """On every Python file of the repository: ``aliases``/``module_bindings``/``resolve`` answer as
    ``names.ImportTable`` (the libcst table fixes use) does."""
    from wsrefactor.names import ImportTable

    files = sorted(REPO.glob("tests/realistic/**/*.py")) + sorted(REPO.glob("fixtures/**/*.py"))
    files += sorted(REPO.glob("wsrefactor/**/*.py"))
    assert len(files) > 100
    for path in files:
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        ours = Imports(tree)
        table = ImportTable(cst.parse_module(text))
        assert ours.aliases == table.aliases, path
        assert ours.module_bindings == table.module_bindings, path
        for name, last in ours.aliases.items():  # the last binding is one of every meaning
            assert last in ours.meanings[name], path
        for node in ast.walk(tree):
            if isinstance(node, (ast.Name, ast.Attribute)) and dotted_name(node) is not None:
                resolved = ours.resolve(node)
                assert resolved == table.resolve(cst.parse_expression(ast.unparse(node))), path
                if resolved is not None:
                    assert resolved in ours.resolve_all(node), path
