"""WS201 blocking-call-in-async: a blocking call inside ``async def`` stalls the whole event loop."""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Optional, cast

from wsrefactor.data.blocking import (
    CONSUMERS,
    FUNCTION_INDEX,
    OBJECT_INDEX,
    OBJECTS,
    THREADED_DECORATOR_NAMES,
    THREADED_DECORATORS,
    blocking_method,
    method_fix_safe,
)
from wsrefactor.lazy import cst
from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Fix, Invalid, Option, SemanticRule, Valid
from wsrefactor.semantic import Analyses, Imports, Scope, SemanticModel
from wsrefactor.semantic.callgraph import CallGraph
from wsrefactor.semantic.detection import Detection, detect_at
from wsrefactor.semantic.nodes import NodeIndex
from wsrefactor.semantic.typefacts import TypeFacts, is_generator

_KINDS = {obj.kind: obj for obj in OBJECTS}
# Top-level packages an object kind can come from: without an import of one, no receiver has a kind.
_OBJECT_ROOTS = tuple(sorted({name.split(".")[0] for name in OBJECT_INDEX}))
_CONTEXT_NOTE = " (used as a context manager: no automatic fix)"


def _canonical(name: str) -> str:
    obj = OBJECT_INDEX.get(name)
    return obj.kind if obj is not None else name


def _shown(name: str) -> str:
    return name[len("builtins."):] if name.startswith("builtins.") else name


@dataclass(frozen=True)
class _Hit:
    """A call that blocks: what it is, how it can be fixed, and where it sits."""

    name: str  # qualified name shown in the message
    fix: str  # "sleep", "to_thread" or "none"
    safe: bool
    parent: Optional[ast.AST]


def _parent_of(stmt: ast.AST, target: ast.AST) -> Optional[ast.AST]:
    """The node holding ``target`` inside its statement (nested statements are not searched)."""
    todo = [stmt]
    while todo:
        node = todo.pop()
        for child in ast.iter_child_nodes(node):
            if child is target:
                return node
            if not isinstance(child, ast.stmt):
                todo.append(child)
    return None


def _executed_calls(fn: Scope) -> list[tuple[ast.Call, Scope]]:
    """Calls a function's body makes when it runs (its comprehensions included, not its lambdas
    or nested defs), in source order, an outer call before the calls in its arguments."""
    out: list[tuple[ast.Call, Scope]] = []
    todo = [fn]
    while todo:
        scope = todo.pop()
        out.extend((call, scope) for call in scope.calls)
        todo.extend(c for c in scope.children if c.kind == "comprehension")
    out.sort(key=lambda cs: (cs[0].lineno, cs[0].col_offset, -(cs[0].end_lineno or 0), -(cs[0].end_col_offset or 0)))
    return out


class _Finder:
    """Decides WS201's findings for one module from its semantic model."""

    def __init__(self, analyses: Analyses, options: Mapping[str, Any]) -> None:
        self.analyses = analyses
        self.model = model = analyses(SemanticModel)
        self.imports = imports = analyses(Imports)
        self.graph = analyses(CallGraph)
        self.types = TypeFacts(model, _canonical)
        self.extra = frozenset(str(name) for name in options.get("extra-blocking-calls") or ())
        self.objects = imports.imports_any(_OBJECT_ROOTS)
        self.can_fix = not imports.imports_module("trio") and (
            imports.imports_module("asyncio") or not imports.imports_module("anyio")
        ) and imports.aliases.get("asyncio", "asyncio") == "asyncio"
        self.summaries: dict[int, tuple[Optional[str], list[tuple[str, Scope]]]] = {}
        self.chains: dict[int, Optional[tuple[list[str], str]]] = {}

    # -- what blocks ------------------------------------------------------------------------

    def parent(self, call: ast.Call) -> Optional[ast.AST]:
        stmt = self.model.statement_of(call)
        return _parent_of(stmt, call) if stmt is not None else None

    def blocking(self, call: ast.Call, scope: Scope) -> Optional[_Hit]:
        """The blocking thing ``call`` calls: a catalogued function, or a blocking method of a
        receiver whose kind the type facts know."""
        func = call.func.value if isinstance(call.func, ast.Subscript) else call.func
        name = self.model.qualified_name(func, scope)
        if name is not None:
            return self._function_hit(call, name)
        if self.objects and isinstance(func, ast.Attribute):
            return self._method_hit(call, func, scope)
        return None

    def _function_hit(self, call: ast.Call, name: str) -> Optional[_Hit]:
        if name in self.extra:
            return _Hit(name, "to_thread", False, self.parent(call))
        entry = FUNCTION_INDEX.get(name)
        if entry is None or (entry.needs_args and not (call.args or call.keywords)):
            return None
        parent = self.parent(call)
        if entry.only_as_context and not _is_context(call, parent):
            return None
        return _Hit(name, entry.fix, entry.safe, parent)

    def _method_hit(self, call: ast.Call, func: ast.Attribute, scope: Scope) -> Optional[_Hit]:
        obj = _KINDS.get(self.types.value_type(func.value, scope) or "")
        if obj is None or not blocking_method(obj, func.attr):
            return None
        return _Hit(f"{obj.kind}.{func.attr}", obj.fix, method_fix_safe(obj, func.attr), self.parent(call))

    # -- sync helpers -----------------------------------------------------------------------

    def runs_body(self, call: ast.Call, target: Optional[Scope], parent: Optional[ast.AST]) -> bool:
        """Whether calling ``target`` runs its body here: a plain sync def, not one a decorator
        sends to a worker thread, and for a generator function only where the call is iterated."""
        if target is None or target.kind != "function" or target.is_async or self.threaded(target.node):
            return False
        return not is_generator(target.node) or self.iterated(call, parent)

    def iterated(self, call: ast.Call, parent: Optional[ast.AST]) -> bool:
        if isinstance(parent, (ast.For, ast.comprehension)) and parent.iter is call:
            return True
        if isinstance(parent, ast.Call) and call in parent.args:
            func = parent.func
            if isinstance(func, ast.Attribute) and func.attr == "join":
                return True
            return self.model.qualified_name(func, self.model.scope_of(call)) in CONSUMERS
        return False

    def threaded(self, fn: ast.AST) -> bool:
        for decorator in getattr(fn, "decorator_list", ()):
            func = decorator.func if isinstance(decorator, ast.Call) else decorator
            tail = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if tail in THREADED_DECORATOR_NAMES or self.model.qualified_name(func) in THREADED_DECORATORS:
                return True
        return False

    def summary(self, fn: Scope) -> tuple[Optional[str], list[tuple[str, Scope]]]:
        """A sync function's first direct blocking call, and the sync functions it calls."""
        key = id(fn)
        if key not in self.summaries:
            self.summaries[key] = (None, [])  # cycles
            first: Optional[str] = None
            edges: list[tuple[str, Scope]] = []
            for call, scope in _executed_calls(fn):
                hit = self.blocking(call, scope)
                if hit is not None:
                    first = hit.name
                    break
                target = self.graph.resolve(call, scope)
                if target is not None and self.runs_body(call, target, self.parent(call)):
                    edges.append((f"{self.analyses.segment(call.func)}()", target))
            self.summaries[key] = (first, edges)
        return self.summaries[key]

    def chain(self, start: Scope) -> Optional[tuple[list[str], str]]:
        """The shortest chain of sync calls from ``start`` to a blocking call (cycle-safe)."""
        key = id(start)
        if key in self.chains:
            return self.chains[key]
        queue: deque[tuple[Scope, list[str]]] = deque([(start, [])])
        seen = {key}
        result = None
        while queue:
            fn, path = queue.popleft()
            first, edges = self.summary(fn)
            if first is not None:
                result = (path, first)
                break
            for shown, target in edges:
                if id(target) not in seen:
                    seen.add(id(target))
                    queue.append((target, [*path, shown]))
        self.chains[key] = result
        return result

    # -- findings ---------------------------------------------------------------------------

    def run(self) -> Iterator[Detection]:
        for scope in self.model.scopes.scopes:
            if scope.in_async and scope.calls:
                for call in scope.calls:
                    yield from self.check(call, scope)

    def check(self, call: ast.Call, scope: Scope) -> Iterator[Detection]:
        hit = self.blocking(call, scope)
        if hit is not None:
            if not isinstance(hit.parent, ast.Await):
                yield self.direct(call, scope, hit)
            return
        target = self.graph.resolve(call, scope)
        if target is None:
            return
        parent = self.parent(call)
        if isinstance(parent, ast.Await) or not self.runs_body(call, target, parent):
            return
        found = self.chain(target)
        if found is not None:
            path, name = found
            via = " -> ".join([f"{self.analyses.segment(call.func)}()", *path])
            yield detect_at(self.analyses, call, f"blocking call {_shown(name)} via {via} in async function")

    def direct(self, call: ast.Call, scope: Scope, hit: _Hit) -> Detection:
        message = f"blocking call {_shown(hit.name)} in async function"
        if _is_context(call, hit.parent):
            return detect_at(self.analyses, call, message + _CONTEXT_NOTE)
        fixable = (
            self.can_fix and hit.fix != "none" and not _in_generator_expression(scope)
            and not (hit.fix == "sleep" and call.keywords)
        )
        paren = _needs_parens(call, hit.parent)
        safety = FixSafety.SAFE if hit.safe else FixSafety.UNSAFE
        return detect_at(
            self.analyses, call, message, fixable=fixable, data=(hit.fix, paren), fix_safety=safety if fixable else None
        )


def _is_context(call: ast.Call, parent: Optional[ast.AST]) -> bool:
    return isinstance(parent, ast.withitem) and parent.context_expr is call


def _in_generator_expression(scope: Scope) -> bool:
    """Inside a generator expression (of the async def): ``await`` would make it an async generator."""
    current: Optional[Scope] = scope
    while current is not None and current.kind == "comprehension":
        if isinstance(current.node, ast.GeneratorExp):
            return True
        current = current.parent
    return False


def _needs_parens(call: ast.Call, parent: Optional[ast.AST]) -> bool:
    """Whether ``await <call>`` needs parentheses here: ``(await x).a``, ``(await x)[i]``, ``(await x)()``."""
    return (isinstance(parent, (ast.Attribute, ast.Subscript)) and parent.value is call) or (
        isinstance(parent, ast.Call) and parent.func is call
    )


class BlockingCallInAsync(SemanticRule):
    """
    ## What it does
    Finds blocking calls made inside an `async def`, from the catalogue in
    `wsrefactor/data/blocking.py`: `time.sleep`; synchronous HTTP (`requests.get/post/...`,
    `httpx.get/...`, `urllib.request.urlopen`, and the methods of a `requests.Session` or
    `httpx.Client`); `subprocess.run/call/check_call/check_output/getoutput/getstatusoutput` and
    `wait()`/`communicate()` on a `subprocess.Popen` (`Popen(...)` itself returns at once and is
    reported only as a `with` item, whose exit waits); `os.system/popen/wait/waitpid/wait3/wait4/
    waitid`; the builtin `open`, `io.open` and `input`; `read_text/read_bytes/write_text/
    write_bytes/open` on `pathlib.Path` values; synchronous WebSocket clients
    (`websocket.create_connection` and its `send`/`recv`/..., `websockets.sync.client.connect` and
    its connection's methods); `smtplib.SMTP`/`SMTP_SSL` given a host, and their methods;
    `pywebpush.webpush`; `socket.create_connection` and the I/O methods of sockets;
    `psycopg2.connect` and its connections' and cursors' methods; the commands of a synchronous
    `redis.Redis` client; the methods of `boto3` clients.

    Which object a method is called on is decided from what the value is — its constructor or
    factory (`redis.Redis.from_url(...)`, `boto3.client("s3")`), its annotation, a `with ... as`
    target, an attribute set in `__init__` (`self.redis = Redis(...)`) — never from a variable
    name; `redis.asyncio.Redis`, `httpx.AsyncClient` and `anyio.Path` are not blocking. Names are
    resolved through the imports, so `from time import sleep as nap; nap(1)` is found and a
    function of your own called `sleep` is not.

    It also follows sync helpers: when an `async def` calls a plain `def` of the same module (or
    `self.helper()`, `Class()` running `__init__`, `self.attr.method()` of a known class) that
    blocks, directly or through further sync helpers at any depth, the call site is reported with
    the chain, e.g. `blocking call time.sleep via load_config() -> _read() in async function`.
    Calling a *generator* function runs none of its body, so `StreamingResponse(gen())` is not
    reported (Starlette iterates a sync generator in a threadpool); a generator iterated right
    there (`for x in gen()`, `list(gen())`) is followed.

    Not reported: a blocking function passed as a callable (`await asyncio.to_thread(time.sleep,
    1)`, `loop.run_in_executor(None, requests.get, url)`); code in a nested sync `def` or a
    `lambda` inside the `async def` (it runs wherever it is called); functions decorated with
    `sync_to_async` / `database_sync_to_async` (they run in a thread; the chain never walks into
    them); awaited calls; anything at module level or in sync code no `async def` reaches.

    ## Why is this bad?
    A WebSocket server runs every connection on one event loop. A blocking call inside a
    handler freezes the loop for its whole duration: no other client receives messages, pings
    go unanswered and connections time out. One `time.sleep(1)` per message caps the server at
    one message per second across all clients.

    ## Example
    ```python
    import time, requests

    @app.websocket("/ws")
    async def feed(ws):
        while True:
            data = requests.get(API, timeout=5).json()
            await ws.send_json(data)
            time.sleep(1)
    ```

    ## Use instead
    ```python
    import asyncio, time, requests

    @app.websocket("/ws")
    async def feed(ws):
        while True:
            data = (await asyncio.to_thread(requests.get, API, timeout=5)).json()
            await ws.send_json(data)
            await asyncio.sleep(1)
    ```
    Fixes, each with its own safety (shown per finding by `check` and applied by a plain `fix`
    when safe):
    - `time.sleep(x)` becomes `await asyncio.sleep(x)` — *safe*: the positional argument is
      evaluated as before and the coroutine waits as long; other tasks run meanwhile, which is
      the point (`import time` is dropped when nothing else uses it).
    - a blocking *function* (HTTP verbs, `subprocess.run`, `os.system`, `open`, `input`,
      `urlopen`, `socket.create_connection`, `psycopg2.connect`, `webpush`...) becomes
      `await asyncio.to_thread(fn, *args, **kwargs)`, keeping the callee as written — *safe*: its
      arguments are evaluated on the loop as before and it shares no object with other tasks.
    - a blocking *method* gets the same `to_thread` wrap: *safe* on `pathlib.Path`, on
      `Popen.wait()` and on clients documented as thread-safe (`redis.Redis`, `boto3` clients);
      *unsafe* elsewhere (`requests.Session`, `httpx.Client`, SMTP, sockets, WebSocket clients,
      psycopg2 cursors): other tasks may use the same object from the loop while the worker
      thread does. Better still is the async library (`httpx.AsyncClient`, `redis.asyncio`,
      `aiosmtplib`, `asyncio.create_subprocess_exec`...).
    - `extra-blocking-calls` entries get an *unsafe* `to_thread` wrap (their thread affinity is
      unknown: a Django ORM call must stay in its thread).
    There is no fix for a blocking call used as a context manager (`with open(p) as f:`, `with
    subprocess.Popen(...)`: the body and the exit would still block; use `aiofiles`/`anyio` or
    move the whole block into a function run with `asyncio.to_thread`), for a call inside a
    generator expression (an `await` there would make it an async generator), for helper-chain
    findings, for modules that use `trio` (or `anyio` without `asyncio`), and for `to_thread`
    before Python 3.9 (with `--target-version` below 3.9 the finding is still listed as fixable
    by a plain check; `fix` leaves it).

    ## Options
    - `extra-blocking-calls` (list of qualified names, default `[]`): more functions to treat
      as blocking, e.g. `["mylib.db.query", "boto3.client"]`; they get the `to_thread` fix.
    """

    code = "WS201"
    name = "blocking-call-in-async"
    category = "asyncio"
    severity = Severity.WARNING
    fix_safety = FixSafety.UNSAFE
    safe_fixes = (
        "time.sleep(x) -> await asyncio.sleep(x) inside async def",
        "await asyncio.to_thread(...) around a blocking function, pathlib.Path I/O, Popen.wait() "
        "and thread-safe clients (redis.Redis, boto3)",
    )
    summary = "blocking call in async function stalls the event loop"
    tokens = ("async",)
    fix_node_types = ("Call",)
    options = (
        Option("extra-blocking-calls", list, [], "more qualified names to treat as blocking calls"),
    )

    VALID = [
        Valid(
            """
            import subprocess

            async def start(cmd):
                proc = subprocess.Popen(cmd)
                return proc.pid
            """
        ),
        Valid("""
            import asyncio, time, requests
            async def handler(url):
                await asyncio.to_thread(time.sleep, 1)
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(None, requests.get, url)
        """),
        Valid("""
            import time
            from asgiref.sync import sync_to_async
            from channels.db import database_sync_to_async

            @sync_to_async
            def load(path):
                time.sleep(1)
                return open(path).read()

            @database_sync_to_async
            def save(obj):
                obj.save()
                time.sleep(0.1)

            async def receive(self, text):
                await load(text)
                await save(self)
        """),
        Valid("""
            import httpx
            async def fetch(url):
                async with httpx.AsyncClient() as client:
                    r = await client.get(url)
                client = httpx.AsyncClient()
                await client.post(url, json={})
                return r
        """),
        Valid("""
            import asyncio
            async def ticker(ws):
                while True:
                    await asyncio.sleep(1)
                    await ws.send_text("tick")
        """),
        Valid("""
            import time, subprocess, requests
            time.sleep(1)
            CONFIG = open("config.json").read()

            def worker():
                time.sleep(1)
                subprocess.run(["ls"])
                return requests.get("http://x")

            def main():
                worker()
        """),
        Valid("""
            import time

            async def sleep(seconds):
                return seconds

            def nap():
                return None

            def fetch():
                time.sleep(1)

            async def handler(fetch):
                await sleep(1)
                nap()
                fetch()
        """),
        Valid("""
            import asyncio, time
            async def handler(loop):
                def blocking_part():
                    time.sleep(1)
                    return open("f").read()
                await asyncio.to_thread(blocking_part)
                await loop.run_in_executor(None, lambda: time.sleep(1))
        """),
        Valid("""
            import anyio, aiofiles
            from anyio import Path
            async def read(p, q):
                text = await anyio.Path(p).read_text()
                other = await Path(q).read_text()
                async with aiofiles.open(p) as f:
                    data = await f.read()
                return text + other + data + await p.read_text()
        """),
        Valid("""
            import json
            def load_config():
                return json.loads("{}")
            async def handler(ws):
                cfg = load_config()
                await ws.send_json(cfg)
        """),
    ]
    INVALID = [
        Invalid(
            """
            import subprocess

            async def deploy(ws, cmd):
                proc = subprocess.Popen(cmd, shell=True)
                proc.wait()
                await ws.send_text(str(proc.returncode))
            """,
            """
            import asyncio
            import subprocess

            async def deploy(ws, cmd):
                proc = subprocess.Popen(cmd, shell=True)
                await asyncio.to_thread(proc.wait)
                await ws.send_text(str(proc.returncode))
            """,
            lines=(5,),
        ),
        Invalid(
            """
            import time
            from fastapi import FastAPI, WebSocket

            app = FastAPI()

            @app.websocket("/ws")
            async def feed(ws: WebSocket):
                await ws.accept()
                while True:
                    await ws.send_text("tick")
                    time.sleep(1)
            """,
            """
            import asyncio
            from fastapi import FastAPI, WebSocket

            app = FastAPI()

            @app.websocket("/ws")
            async def feed(ws: WebSocket):
                await ws.accept()
                while True:
                    await ws.send_text("tick")
                    await asyncio.sleep(1)
            """,
            lines=(11,),
        ),
        Invalid(
            """
            import asyncio
            import requests as rq
            from time import sleep as nap

            async def poll(ws, url):
                data = rq.get(url, timeout=5).json()
                nap(0.5)
                await ws.send_json(data)
            """,
            """
            import asyncio
            import requests as rq

            async def poll(ws, url):
                data = (await asyncio.to_thread(rq.get, url, timeout=5)).json()
                await asyncio.sleep(0.5)
                await ws.send_json(data)
            """,
            lines=(6, 7),
        ),
        Invalid(
            """
            import asyncio, httpx, requests

            async def fetch(url):
                s = requests.Session()
                r = s.get(url)
                with httpx.Client() as client:
                    client.post(url, json=r.json())
            """,
            """
            import asyncio, httpx, requests

            async def fetch(url):
                s = requests.Session()
                r = await asyncio.to_thread(s.get, url)
                with httpx.Client() as client:
                    await asyncio.to_thread(client.post, url, json=r.json())
            """,
            lines=(5, 7),
        ),
        Invalid(
            """
            import asyncio, subprocess, os
            from pathlib import Path

            async def deploy(ws, root):
                out = subprocess.check_output(["git", "pull"], cwd=root)
                os.system("make")
                cfg = Path(root) / "deploy.toml"
                text = cfg.read_text()
                Path(root, "log").write_text(text)
                with open(cfg) as f:
                    await ws.send_text(f.read())
            """,
            """
            import asyncio, subprocess, os
            from pathlib import Path

            async def deploy(ws, root):
                out = await asyncio.to_thread(subprocess.check_output, ["git", "pull"], cwd=root)
                await asyncio.to_thread(os.system, "make")
                cfg = Path(root) / "deploy.toml"
                text = await asyncio.to_thread(cfg.read_text)
                await asyncio.to_thread(Path(root, "log").write_text, text)
                with open(cfg) as f:
                    await ws.send_text(f.read())
            """,
            lines=(5, 6, 8, 9, 10),
        ),
        Invalid(
            """
            import time, json

            def _read(path):
                with open(path) as f:
                    return json.load(f)

            def load_config():
                return _read("config.json")

            def _retry():
                time.sleep(1)
                _retry()

            async def handler(ws):
                cfg = load_config()
                _retry()
                await ws.send_json(cfg)
            """,
            lines=(15, 16),
        ),
        Invalid(
            """
            import urllib.request

            class Consumer:
                def fetch(self, url):
                    return self._get(url)

                def _get(self, url):
                    return urllib.request.urlopen(url).read()

                async def receive(self, text_data):
                    body = self.fetch(text_data)
                    name = input("name? ")
            """,
            """
            import asyncio
            import urllib.request

            class Consumer:
                def fetch(self, url):
                    return self._get(url)

                def _get(self, url):
                    return urllib.request.urlopen(url).read()

                async def receive(self, text_data):
                    body = self.fetch(text_data)
                    name = await asyncio.to_thread(input, "name? ")
            """,
            lines=(11, 12),
        ),
        Invalid(
            """
            import asyncio
            import mylib.db

            async def handler(ws):
                rows = mylib.db.query(
                    "select 1",
                    timeout=3,
                )
                await ws.send_json(rows)
            """,
            """
            import asyncio
            import mylib.db

            async def handler(ws):
                rows = await asyncio.to_thread(
                    mylib.db.query,
                    "select 1",
                    timeout=3,
                )
                await ws.send_json(rows)
            """,
            lines=(5,),
            options={"extra-blocking-calls": ["mylib.db.query"]},
        ),
        Invalid(
            """
            import time, requests

            async def handler(urls):
                total = sum(requests.get(u).status_code for u in urls)
                with requests.get(urls[0], stream=True) as r:
                    pass
                time.sleep(1)
            """,
            lines=(4, 5, 7),
            target_version="3.8",
        ),
    ]


    @classmethod
    def detect(cls, analyses: Analyses, options: Mapping[str, Any]) -> Iterator[Detection]:
        """Blocking calls an ``async def`` makes directly, or through sync helpers it calls."""
        if not analyses(NodeIndex).has(ast.AsyncFunctionDef):
            return  # "async" in the text but no ``async def``: no scopes to build
        if not any(scope.is_async for scope in analyses(SemanticModel).scopes.scopes):
            return
        yield from _Finder(analyses, options).run()

    def fix(self, node: cst.CSTNode, detection: Detection) -> Fix | None:
        """``await asyncio.sleep(...)`` for ``time.sleep``, else ``await asyncio.to_thread(...)`` (3.9+)."""
        kind, paren = detection.data
        safety = detection.fix_safety or self.fix_safety
        if not isinstance(node, cst.Call):
            return None
        if kind == "sleep":
            return Fix(
                safety,
                "use await asyncio.sleep(...)",
                replacements={node: lambda updated: _await(_sleep(_call(updated)), _call(updated), paren)},
                imports=(("asyncio", None),),
            )
        if self.ctx.target_version >= (3, 9):
            return Fix(
                safety,
                "run the blocking call in a worker thread with asyncio.to_thread",
                replacements={node: lambda updated: _await(_to_thread(_call(updated)), _call(updated), paren)},
                imports=(("asyncio", None),),
            )
        return None


def _call(node: cst.CSTNode) -> cst.Call:
    """The updated node of a replacement keyed by a ``Call`` is a ``Call``."""
    return cast(cst.Call, node)


def _sleep(updated: cst.Call) -> cst.Call:
    return updated.with_changes(
        func=cst.Attribute(cst.Name("asyncio"), cst.Name("sleep")), lpar=[], rpar=[]
    )


def _to_thread(updated: cst.Call) -> cst.Call:
    ws = updated.whitespace_before_args
    if updated.args:
        after: cst.BaseParenthesizableWhitespace = cst.SimpleWhitespace(" ")
        if isinstance(ws, cst.ParenthesizedWhitespace):  # one argument a line: keep it so
            after = ws.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=[])
        first = cst.Arg(updated.func, comma=cst.Comma(whitespace_after=after))
    else:
        first = cst.Arg(updated.func)
    return cst.Call(
        func=cst.Attribute(cst.Name("asyncio"), cst.Name("to_thread")),
        args=[first, *updated.args],
        whitespace_after_func=updated.whitespace_after_func,
        whitespace_before_args=ws,
    )


def _await(call: cst.Call, updated: cst.Call, paren: bool) -> cst.Await:
    lpar, rpar = list(updated.lpar), list(updated.rpar)
    if paren and not lpar:
        lpar, rpar = [cst.LeftParen()], [cst.RightParen()]
    return cst.Await(expression=call, lpar=lpar, rpar=rpar)
