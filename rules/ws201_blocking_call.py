"""WS201 blocking-call-in-async: a blocking call inside ``async def`` stalls the whole event loop."""

from __future__ import annotations

import ast
import re
from bisect import bisect_right
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

import libcst as cst

from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Fix, Invalid, Option, Report, Rule, Valid
from wsrefactor.rules._calls import is_dotted
from wsrefactor.rules._helpers import callee
from wsrefactor.rules._prefilter import index, per_tree

_HTTP_VERBS = ("get", "post", "put", "patch", "delete", "head", "options", "request")

BLOCKING = frozenset(
    {
        "time.sleep",
        "urllib.request.urlopen",
        "builtins.open",
        "io.open",
        "builtins.input",
        *(f"requests.{verb}" for verb in _HTTP_VERBS),
        *(f"requests.api.{verb}" for verb in _HTTP_VERBS),
        *(f"httpx.{verb}" for verb in _HTTP_VERBS),
        *(
            f"subprocess.{name}"
            for name in ("run", "call", "check_call", "check_output", "getoutput", "getstatusoutput", "Popen")
        ),
        *(f"os.{name}" for name in ("system", "popen", "wait", "waitpid", "wait3", "wait4", "waitid")),
    }
)
# Constructors of synchronous HTTP clients whose methods block (httpx.AsyncClient is not one).
_SESSIONS = {
    "requests.Session": "requests.Session",
    "requests.session": "requests.Session",
    "requests.sessions.Session": "requests.Session",
    "requests.sessions.session": "requests.Session",
    "httpx.Client": "httpx.Client",
    # ``Popen`` returns at once; what blocks is waiting for the process.
    "subprocess.Popen": "subprocess.Popen",
}
_HTTP_SESSION_METHODS = frozenset({*_HTTP_VERBS, "send", "stream"})
_POPEN_METHODS = frozenset({"wait", "communicate"})
_METHODS_OF = {"requests.Session": _HTTP_SESSION_METHODS, "httpx.Client": _HTTP_SESSION_METHODS,
               "subprocess.Popen": _POPEN_METHODS}
_SESSION_METHODS = _HTTP_SESSION_METHODS | _POPEN_METHODS
_PATH_CTORS = frozenset(
    {"pathlib.Path", "pathlib.PosixPath", "pathlib.WindowsPath", "pathlib.Path.cwd", "pathlib.Path.home"}
)
_PATH_IO = frozenset({"read_text", "read_bytes", "write_text", "write_bytes", "open"})
_PATH_DERIVED = frozenset(
    {"resolve", "absolute", "expanduser", "with_name", "with_suffix", "with_stem", "joinpath", "relative_to"}
)
# Decorators that make a sync function run in a worker thread (and return an awaitable).
_THREADED = frozenset({"asgiref.sync.sync_to_async", "channels.db.database_sync_to_async"})
_THREADED_TAILS = frozenset({"sync_to_async", "database_sync_to_async"})
_TOKENS = ("sleep", "requests", "httpx", "urlopen", "subprocess", "system", "popen", "wait", "open", "input",
           "read_text", "read_bytes", "write_text", "write_bytes")

_ASYNC_DEF = re.compile(r"\basync\s+def\b")


@dataclass(eq=False)
class _Frame:
    """What the rule knows about one scope: a module, class, function or lambda body."""

    kind: str  # "module", "class", "async", "sync", "thread" (runs in a worker thread), "lambda"
    key: tuple[str, ...]  # dotted scope names, the scope itself included
    kinds: tuple[str, ...]  # "class" or "def" for each element of key
    locals: set[str] = field(default_factory=set)  # parameters and names bound in the scope
    sessions: dict[str, str] = field(default_factory=dict)  # local name -> client type
    paths: set[str] = field(default_factory=set)  # local names bound to pathlib.Path objects
    blocking: list[str] = field(default_factory=list)  # blocking calls made directly (sync frames)
    edges: list[tuple[tuple[str, ...], str]] = field(default_factory=list)  # (candidate keys, shown)


@dataclass(eq=False)
class _Site:
    """A call from an ``async def`` to what may be a sync function of the same module."""

    call: cst.Call
    candidates: tuple[tuple[str, ...], ...]
    shown: str
    stmt: Optional[cst.CSTNode]
    scope: str


def _shown(name: str) -> str:
    return name[len("builtins."):] if name.startswith("builtins.") else name


class BlockingCallInAsync(Rule):
    """
    ## What it does
    Finds blocking calls made directly inside an `async def`: `time.sleep`, the synchronous
    HTTP clients (`requests.get/post/...`, `httpx.get/post/...`, and the methods of a
    `requests.Session()` or `httpx.Client()` created in the function, also through
    `with ... as s`), `urllib.request.urlopen`, `subprocess.run/call/check_call/check_output/
    getoutput/getstatusoutput`, `wait()`/`communicate()` on a `subprocess.Popen` made in the
    function (`Popen(...)` itself returns at once and is not reported, except as a `with` item,
    whose exit waits), `os.system/popen/wait/waitpid/wait3/wait4/waitid`, the builtin
    `open` and `io.open`, `input`, and `read_text/read_bytes/write_text/write_bytes/open` on
    `pathlib.Path` objects (`Path(p).read_text()`, or a local name bound to `Path(...)` or to a
    `/` expression on one). Names are resolved through the imports, so `from time import sleep as
    nap; nap(1)` is found and a function of your own called `sleep` is not.

    It also follows sync helpers: when an `async def` calls a plain `def` of the same module (or
    `self.helper()`, a sync method of the same class) that blocks, directly or through further
    sync helpers at any depth, the call site is reported with the chain, e.g. `blocking call
    time.sleep via load_config() -> _read() in async function`.

    Not reported: a blocking function passed as a callable (`await asyncio.to_thread(time.sleep,
    1)`, `loop.run_in_executor(None, requests.get, url)`); code in a nested sync `def` or a
    `lambda` inside the `async def` (it runs wherever it is called); functions decorated with
    `sync_to_async` / `database_sync_to_async` (they run in a thread; the chain never walks into
    them); awaited calls; `asyncio.sleep`; `httpx.AsyncClient` (its methods are awaited);
    `.read_text()` and friends on receivers not known to be `pathlib.Path` (`anyio.Path`,
    aiofiles); anything at module level or in sync code no `async def` reaches.

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
    Fixes: `time.sleep(x)` becomes `await asyncio.sleep(x)` (safe: only inside `async def`,
    positional argument evaluated as before, the coroutine waits as long; other tasks now run
    meanwhile, which is the point; `import time` is dropped when nothing else uses it, so
    a plain `wsrefactor fix` applies it). Any other direct blocking
    call becomes `await asyncio.to_thread(fn, *args, **kwargs)`, keeping the callee as written
    (unsafe: the call now runs in a worker thread, concurrently with the loop; better still is an
    async library such as `httpx.AsyncClient` or `asyncio.create_subprocess_exec`). There is no
    fix for a blocking call used as a context manager (`with open(p) as f:`, `with
    subprocess.Popen(...)`: the body and the exit would still block; use `aiofiles`/`anyio` or
    move the whole block into a function run with `asyncio.to_thread`), for a call inside a
    generator expression (an `await` there would make it an async generator), for helper-chain
    findings, for modules that use `trio` (or `anyio` without `asyncio`), and for `to_thread`
    before Python 3.9.

    ## Options
    - `extra-blocking-calls` (list of qualified names, default `[]`): more functions to treat
      as blocking, e.g. `["mylib.db.query", "boto3.client"]`; they get the `to_thread` fix.
    """

    code = "WS201"
    name = "blocking-call-in-async"
    category = "asyncio"
    severity = Severity.WARNING
    fix_safety = FixSafety.UNSAFE
    safe_fixes = ("time.sleep(x) -> await asyncio.sleep(x) inside async def",)
    summary = "blocking call in async function stalls the event loop"
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
    def wants(cls, text: str, tree: ast.Module | None, options: Mapping[str, Any]) -> bool:
        """Some blocking-looking call sits where an ``async def`` runs it: in its own body, or in a
        sync ``def`` its name calls (transitively). Most files have no ``async def`` and stop at once."""
        extra = tuple(str(name) for name in options.get("extra-blocking-calls") or ())
        if tree is None:
            return _wants_text(text, extra)
        if not index(tree).has_async:
            return False
        return per_tree(_reaches_blocking, tree, extra)

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        extra = self.opts.get("extra-blocking-calls") or []
        self.blocking = BLOCKING | {str(name) for name in extra}
        self.frames: dict[cst.CSTNode, _Frame] = {}
        self.defs: dict[tuple[str, ...], _Frame] = {}
        self.sites: list[_Site] = []
        self.imports = imports = ctx.imports
        self.can_fix = not imports.imports_module("trio") and (
            imports.imports_module("asyncio") or not imports.imports_module("anyio")
        ) and imports.aliases.get("asyncio", "asyncio") == "asyncio"

    def _qualname(self, expr: cst.BaseExpression) -> Optional[str]:
        return self.imports.resolve(expr)

    # ---- scopes ---------------------------------------------------------------------------

    def _frame(self) -> _Frame:
        """The frame whose body holds the current node (decorators and defaults belong outside)."""
        anc = self.ctx.ancestors
        for i in range(len(anc) - 2, -1, -1):
            node = anc[i]
            if isinstance(node, cst.Module):
                return self.frames[node]
            if isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef)) and anc[i + 1] is node.body:
                return self.frames[node]
        return self.frames[anc[0]]

    def visit_Module(self, node: cst.Module) -> None:
        self.frames[node] = _Frame("module", (), ())

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        outer = self._frame()
        self.frames[node] = _Frame("class", (*outer.key, node.name.value), (*outer.kinds, "class"))
        outer.locals.add(node.name.value)

    def visit_Lambda(self, node: cst.Lambda) -> None:
        outer = self._frame()
        frame = _Frame("lambda", (*outer.key, "<lambda>"), (*outer.kinds, "def"))
        frame.locals.update(self._params(node.params))
        self.frames[node] = frame

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        outer = self._frame()
        if node.asynchronous is not None:
            kind = "async"
        elif any(self._threaded(d.decorator) for d in node.decorators):
            kind = "thread"
        else:
            kind = "sync"
        frame = _Frame(kind, (*outer.key, node.name.value), (*outer.kinds, "def"))
        frame.locals.update(self._params(node.params))
        for param in self._all_params(node.params):
            if param.annotation is not None and self._is_path_type(param.annotation.annotation):
                frame.paths.add(param.name.value)
        self.frames[node] = frame
        self.defs[frame.key] = frame
        if outer.kind != "module":
            outer.locals.add(node.name.value)

    @staticmethod
    def _all_params(params: cst.Parameters) -> list[cst.Param]:
        out = [*params.posonly_params, *params.params, *params.kwonly_params]
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                out.append(star)
        return out

    def _params(self, params: cst.Parameters) -> set[str]:
        return {p.name.value for p in self._all_params(params)}

    def _threaded(self, decorator: cst.BaseExpression) -> bool:
        if isinstance(decorator, cst.Call):
            decorator = decorator.func
        name = self._qualname(decorator)
        if name in _THREADED:
            return True
        tail = decorator.attr.value if isinstance(decorator, cst.Attribute) else getattr(decorator, "value", None)
        return tail in _THREADED_TAILS

    def _is_path_type(self, annotation: cst.BaseExpression) -> bool:
        return self._qualname(annotation) in ("pathlib.Path", "pathlib.PosixPath", "pathlib.WindowsPath")

    # ---- bindings -------------------------------------------------------------------------

    def _bind(self, frame: _Frame, target: cst.BaseExpression, value: Optional[cst.BaseExpression]) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._bind(frame, element.value, None)
            return
        if not isinstance(target, cst.Name):
            return
        name = target.value
        frame.locals.add(name)
        frame.sessions.pop(name, None)
        frame.paths.discard(name)
        if value is None:
            return
        session = self._session_type(value)
        if session is not None:
            frame.sessions[name] = session
        elif self._is_path(value, frame):
            frame.paths.add(name)

    def visit_Assign(self, node: cst.Assign) -> None:
        frame = self._frame()
        for target in node.targets:
            self._bind(frame, target.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        frame = self._frame()
        self._bind(frame, node.target, node.value)
        if isinstance(node.target, cst.Name) and self._is_path_type(node.annotation.annotation):
            frame.paths.add(node.target.value)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._bind(self._frame(), node.asname.name, node.item)

    def visit_For(self, node: cst.For) -> None:
        self._bind(self._frame(), node.target, None)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(self._frame(), node.target, node.value)

    def _session_type(self, value: cst.BaseExpression) -> Optional[str]:
        if isinstance(value, cst.Call) and is_dotted(callee(value)):
            return _SESSIONS.get(self._qualname(callee(value)) or "")
        return None

    def _is_path(self, expr: cst.BaseExpression, frame: _Frame) -> bool:
        """Whether ``expr`` is surely a ``pathlib.Path``: built, derived, joined with ``/`` or bound."""
        if isinstance(expr, cst.Call):
            return self._is_path_call(expr, frame)
        if isinstance(expr, cst.Attribute):
            return expr.attr.value == "parent" and self._is_path(expr.value, frame)
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Divide):
            return self._is_path(expr.left, frame) or self._is_path(expr.right, frame)
        if isinstance(expr, cst.Name):
            return self._is_path_name(expr.value, frame)
        return False

    def _is_path_call(self, call: cst.Call, frame: _Frame) -> bool:
        """``Path(...)`` and its kin, or a path method returning a path (``p.with_suffix(...)``)."""
        if is_dotted(callee(call)) and self._qualname(callee(call)) in _PATH_CTORS:
            return True
        func = call.func
        return isinstance(func, cst.Attribute) and func.attr.value in _PATH_DERIVED and self._is_path(
            func.value, frame
        )

    def _is_path_name(self, name: str, frame: _Frame) -> bool:
        """A name bound to a path in this function, or at module level unless a local shadows it."""
        if name in frame.paths:
            return True
        if name in frame.locals:
            return False
        return name in self.frames[self.ctx.ancestors[0]].paths

    # ---- calls ----------------------------------------------------------------------------

    def _blocking_name(self, call: cst.Call, frame: _Frame) -> Optional[str]:
        """The qualified name of the blocking thing ``call`` calls, if it blocks."""
        func = callee(call)
        name = self._dotted_qualname(func, frame)
        if name == "subprocess.Popen" and not isinstance(self.ctx.parent(), cst.WithItem):
            return None  # starting a process does not block; ``wait``/``communicate`` (and ``with``'s exit) do
        if name in self.blocking:
            return name
        if isinstance(func, cst.Attribute):
            return self._blocking_method(func, frame)
        return None

    def _dotted_qualname(self, func: cst.BaseExpression, frame: _Frame) -> Optional[str]:
        """The qualified name of a dotted callee (not ``make()()`` or ``x[0]()``) not rooted in a local."""
        head = func
        while isinstance(head, cst.Attribute):
            head = head.value
        if isinstance(head, cst.Name) and head.value not in frame.locals:
            return self._qualname(func)
        return None

    def _blocking_method(self, func: cst.Attribute, frame: _Frame) -> Optional[str]:
        """A blocking method on a known receiver: a requests-like session, or a path doing I/O."""
        method, recv = func.attr.value, func.value
        if method in _SESSION_METHODS:
            session = self._session_type(recv)
            if session is None and isinstance(recv, cst.Name):
                session = frame.sessions.get(recv.value)
            if session is not None and method in _METHODS_OF[session]:
                return f"{session}.{method}"
        if method in _PATH_IO and self._is_path(recv, frame):
            return f"pathlib.Path.{method}"
        return None

    def _candidates(self, call: cst.Call, frame: _Frame) -> tuple[tuple[tuple[str, ...], ...], str]:
        """Keys of same-module functions ``call`` may call (innermost first), and how it reads."""
        func = call.func
        if isinstance(func, cst.Name):
            return self._function_candidates(func.value, frame)
        return self._method_candidates(func, frame)

    def _function_candidates(self, name: str, frame: _Frame) -> tuple[tuple[tuple[str, ...], ...], str]:
        """``name()``: the functions of that name visible from here, innermost scope first."""
        if name in self.imports.aliases:
            return (), ""
        if name in frame.locals and (*frame.key, name) not in self.defs:
            return (), ""  # a parameter or local variable shadows any function of that name
        # class bodies are not enclosing scopes for the functions defined in them
        keys = [
            (*frame.key[:i], name)
            for i in range(len(frame.key), -1, -1)
            if not (i and frame.kinds[i - 1] == "class")
        ]
        return tuple(keys), f"{name}()"

    def _method_candidates(self, func: cst.BaseExpression, frame: _Frame) -> tuple[tuple[tuple[str, ...], ...], str]:
        """``self.m()`` / ``cls.m()`` in a method: the class's own ``m``."""
        if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)):
            return (), ""
        if func.value.value not in ("self", "cls") or len(frame.kinds) < 2 or frame.kinds[-2] != "class":
            return (), ""
        return ((*frame.key[:-1], func.attr.value),), f"{func.value.value}.{func.attr.value}()"

    def visit_Call(self, node: cst.Call) -> None:
        frame = self._frame()
        if frame.kind not in ("async", "sync"):
            return
        parent = self.ctx.parent()
        if isinstance(parent, cst.Await):
            return
        blocking = self._blocking_name(node, frame)
        if frame.kind == "sync":
            if blocking is not None:
                frame.blocking.append(blocking)
            else:
                candidates, shown = self._candidates(node, frame)
                if candidates:
                    frame.edges.append((candidates, shown))
            return
        if blocking is not None:
            self._report_direct(node, blocking, parent)
            return
        candidates, shown = self._candidates(node, frame)
        if candidates:
            self.sites.append(
                _Site(node, candidates, shown, self.ctx.current_statement(), self.ctx.scope_name())
            )

    def _report_direct(self, node: cst.Call, blocking: str, parent: Optional[cst.CSTNode]) -> None:
        message = f"blocking call {_shown(blocking)} in async function"
        if isinstance(parent, cst.WithItem):
            self.report(node, message + " (used as a context manager: no automatic fix)")
            return
        self.report(node, message, fix=self._direct_fix(node, blocking, parent))

    def _direct_fix(self, node: cst.Call, blocking: str, parent: Optional[cst.CSTNode]) -> Optional[Fix]:
        """``await asyncio.sleep(...)`` for ``time.sleep``, else ``await asyncio.to_thread(...)`` (3.9+)."""
        if not self.can_fix or any(isinstance(a, cst.GeneratorExp) for a in self._inside_frame()):
            return None  # ``await`` is not allowed in a generator expression
        paren = _needs_parens(node, parent)
        if blocking == "time.sleep":
            if any(arg.keyword is not None for arg in node.args):
                return None
            return Fix(
                FixSafety.SAFE,
                "use await asyncio.sleep(...)",
                replacements={node: lambda updated: _await(_sleep(updated), updated, paren)},
                imports=(("asyncio", None),),
            )
        if self.ctx.target_version >= (3, 9):
            return Fix(
                FixSafety.UNSAFE,
                "run the blocking call in a worker thread with asyncio.to_thread",
                replacements={node: lambda updated: _await(_to_thread(updated), updated, paren)},
                imports=(("asyncio", None),),
            )
        return None

    def _inside_frame(self) -> list[cst.CSTNode]:
        """The ancestors between the innermost function body and the current node."""
        anc = self.ctx.ancestors
        for i in range(len(anc) - 2, -1, -1):
            if isinstance(anc[i], (cst.FunctionDef, cst.Lambda, cst.ClassDef, cst.Module)):
                return anc[i + 1:-1]
        return anc[:-1]

    # ---- helper chains --------------------------------------------------------------------

    def _resolve(self, candidates: tuple[tuple[str, ...], ...]) -> Optional[_Frame]:
        for key in candidates:
            frame = self.defs.get(key)
            if frame is not None:
                return frame
        return None

    def _chain(self, start: _Frame, memo: dict[tuple[str, ...], Any]) -> Optional[tuple[list[str], str]]:
        """Shortest chain of sync calls from ``start`` to a blocking call (cycle-safe)."""
        if start.key in memo:
            return memo[start.key]
        queue: deque[tuple[_Frame, list[str]]] = deque([(start, [])])
        seen = {start.key}
        result = None
        while queue:
            frame, path = queue.popleft()
            if frame.blocking:
                result = (path, frame.blocking[0])
                break
            for candidates, shown in frame.edges:
                target = self._resolve(candidates)
                if target is not None and target.kind == "sync" and target.key not in seen:
                    seen.add(target.key)
                    queue.append((target, [*path, shown]))
        memo[start.key] = result
        return result

    def leave_Module(self, original_node: cst.Module) -> None:
        memo: dict[tuple[str, ...], Any] = {}
        for site in self.sites:
            target = self._resolve(site.candidates)
            if target is None or target.kind != "sync":
                continue
            chain = self._chain(target, memo)
            if chain is None:
                continue
            path, blocking = chain
            via = " -> ".join([site.shown, *path])
            message = f"blocking call {_shown(blocking)} via {via} in async function"
            self.reports.append(Report(site.call, message, None, stmt=site.stmt, scope=site.scope))


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


def _needs_parens(node: cst.Call, parent: Optional[cst.CSTNode]) -> bool:
    """Whether ``await <node>`` needs parentheses here: ``(await x).a``, ``(await x)[i]``, ``(await x)()``."""
    return (isinstance(parent, (cst.Attribute, cst.Subscript)) and parent.value is node) or (
        isinstance(parent, cst.Call) and parent.func is node
    )


def _await(call: cst.Call, updated: cst.Call, paren: bool) -> cst.Await:
    lpar, rpar = list(updated.lpar), list(updated.rpar)
    if paren and not lpar:
        lpar, rpar = [cst.LeftParen()], [cst.RightParen()]
    return cst.Await(expression=call, lpar=lpar, rpar=rpar)


# ---- the ast prefilter (``wants``) ----------------------------------------------------------------
# A necessary condition of a finding, judged from Python's ``ast``: it follows the visitor's
# semantics but only ever over-approximates them (a function is matched by its name, not its scope
# key; any local name may hold a path; every binding of an imported name counts, not the last one).

_PATHLIB = frozenset({"pathlib", "pathlib.Path", "pathlib.PosixPath", "pathlib.WindowsPath"})
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_SESSION_TAILS = frozenset(name.rpartition(".")[2] for name in _SESSIONS)

_Pos = tuple[int, int]


def _wants_text(text: str, extra: tuple[str, ...]) -> bool:
    """Without a tree: ``async def`` and some token of a blocking call in the text."""
    if _ASYNC_DEF.search(text) is None:
        return False
    return any(token in text for token in (*_TOKENS, *(name.rpartition(".")[2] for name in extra)) if token)


def _unsubscripted(func: ast.expr) -> ast.expr:
    """The called expression looking through generics (``Queue[int]()``), as ``callee`` does."""
    return func.value if isinstance(func, ast.Subscript) else func


def _tail(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _body_span(scope: ast.AST) -> tuple[_Pos, _Pos]:
    """Where the body of a def, lambda or class starts and ends."""
    body = scope.body if isinstance(scope.body, list) else [scope.body]  # type: ignore[attr-defined]
    first, last = body[0], body[-1]
    return (first.lineno, first.col_offset), (last.end_lineno, last.end_col_offset)


class _BodySpans:
    """Which scope body a node sits in. Bodies of defs, lambdas and classes nest (decorators,
    defaults and annotations lie before the body), so the innermost body span holding a node's
    start is the scope the visitor's ``_frame()`` finds for it."""

    def __init__(self, tree: ast.Module) -> None:
        spans = sorted(((*_body_span(n), n) for n in index(tree).nodes(*_SCOPES)), key=lambda s: s[0])
        self.starts: list[_Pos] = [s[0] for s in spans]
        self.ends: list[_Pos] = [s[1] for s in spans]
        self.scopes: list[ast.AST] = [s[2] for s in spans]
        self.parents: list[int] = []  # the innermost span holding each span (-1: the module)
        stack: list[int] = []
        for i, start in enumerate(self.starts):
            while stack and self.ends[stack[-1]] <= start:
                stack.pop()
            self.parents.append(stack[-1] if stack else -1)
            stack.append(i)

    def owner(self, node: ast.expr) -> Optional[ast.AST]:
        """The innermost def, lambda or class whose body holds ``node`` (None: module level)."""
        pos = (node.lineno, node.col_offset)
        i = bisect_right(self.starts, pos) - 1
        while i >= 0 and not pos < self.ends[i]:
            i = self.parents[i]
        return self.scopes[i] if i >= 0 else None


class _AstFacts:
    """What the prefilter needs to know about one file, resolved through its imports."""

    def __init__(self, tree: ast.Module, extra: tuple[str, ...]) -> None:
        self.idx = index(tree)
        self.blocking = BLOCKING | set(extra)
        self.targets = self.idx.imports.aliases
        self.pathlib = any(names & _PATHLIB for names in self.targets.values())
        self.tails = self._tails()
        self.sessions: Optional[list[ast.Call]] = None

    def _tails(self) -> set[str]:
        """Last names a blocking call can have here: a qualified name resolves only through an
        import of its top package (or the builtins), a session only through requests or httpx."""
        roots = {name.split(".")[0] for names in self.targets.values() for name in names} | {"builtins"}
        tails = {name.rpartition(".")[2] for name in self.blocking if name.split(".")[0] in roots}
        if roots & {"requests", "httpx", "subprocess"}:
            tails |= _SESSION_METHODS
        return tails | _PATH_IO if self.pathlib else tails

    def qualnames(self, expr: ast.expr) -> frozenset[str]:
        """Every qualified name ``expr`` may refer to (the shared ``AstImports``)."""
        return self.idx.imports.resolve(expr)

    def blocking_calls(self) -> list[tuple[ast.Call, str]]:
        """Calls that may block, with how (see ``_how``); a cheap look at the callee's last name
        first, since most calls cannot be one."""
        found: list[tuple[ast.Call, str]] = []
        if self.tails.isdisjoint(self.idx.called) and self.targets.keys().isdisjoint(self.idx.called):
            return found  # ``called`` holds every call's last name (shared with other rules)
        for call in self.idx.nodes(ast.Call):
            tail = _tail(_unsubscripted(call.func))
            if tail in self.tails or tail in self.targets:
                how = self._how(call)
                if how:
                    found.append((call, how))
        return found

    def _how(self, call: ast.Call) -> str:
        """``"name"`` (a blocking qualified name), ``"session"`` (an HTTP verb on some receiver, when
        the file builds a sync session), ``"path"`` (path I/O on what may be a path) or ``""``."""
        func = _unsubscripted(call.func)
        if self.qualnames(func) & self.blocking:
            return "name"
        if not isinstance(func, ast.Attribute):
            return ""
        if func.attr in _SESSION_METHODS:
            return "session" if self.session_calls() else ""
        return "path" if func.attr in _PATH_IO and self.pathlib and self.maybe_path(func.value) else ""

    def session_calls(self) -> list[ast.Call]:
        """Calls of the sync HTTP session constructors."""
        if self.sessions is None:
            heads = _SESSION_TAILS | self.targets.keys()
            self.sessions = [
                c for c in self.idx.nodes(ast.Call)
                if _tail(_unsubscripted(c.func)) in heads and self.qualnames(_unsubscripted(c.func)) & _SESSIONS.keys()
            ]
        return self.sessions

    def maybe_path(self, expr: ast.expr) -> bool:
        """Whether the visitor's ``_is_path`` could hold: any name may be bound to a path."""
        if isinstance(expr, ast.Name):
            return True
        if isinstance(expr, ast.Call):
            return self._maybe_path_call(_unsubscripted(expr.func))
        if isinstance(expr, ast.Attribute):
            return expr.attr == "parent" and self.maybe_path(expr.value)
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Div):
            return self.maybe_path(expr.left) or self.maybe_path(expr.right)
        return False

    def _maybe_path_call(self, func: ast.expr) -> bool:
        """``Path(...)`` and its kin, or a path method returning a path (``p.with_suffix(...)``)."""
        if self.qualnames(func) & _PATH_CTORS:
            return True
        return isinstance(func, ast.Attribute) and func.attr in _PATH_DERIVED and self.maybe_path(func.value)

    def kind(self, scope: Optional[ast.AST]) -> str:
        """``"async"``, ``"sync"`` (a plain def not run in a thread) or ``""`` (calls ignored there)."""
        if isinstance(scope, ast.AsyncFunctionDef):
            return "async"
        if isinstance(scope, ast.FunctionDef) and not any(self.threaded(d) for d in scope.decorator_list):
            return "sync"
        return ""

    def threaded(self, decorator: ast.expr) -> bool:
        """Surely a ``sync_to_async``-like decorator for the visitor too (never a guess)."""
        if isinstance(decorator, ast.Call):
            decorator = decorator.func
        names = self.qualnames(decorator)
        return _tail(decorator) in _THREADED_TAILS or bool(names) and names <= _THREADED

    def calls_by_name(self, names: set[str]) -> dict[str, list[ast.Call]]:
        """Calls that may reach a same-module function of these names: ``name()`` (not an import)
        or ``self.name()`` / ``cls.name()``."""
        out: dict[str, list[ast.Call]] = {}
        for call in self.idx.nodes(ast.Call):
            name = self._local_callee(call.func)
            if name in names:
                out.setdefault(name, []).append(call)
        return out

    def _local_callee(self, func: ast.expr) -> str:
        if isinstance(func, ast.Name):
            return "" if func.id in self.targets else func.id
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in ("self", "cls"):
            return func.attr
        return ""


def _reaches_blocking(tree: ast.Module, extra: tuple[str, ...]) -> bool:
    """Some blocking call runs on the loop: directly in an ``async def`` (not awaited), or in a sync
    ``def`` whose name is called, through further sync defs, from an ``async def``."""
    facts = _AstFacts(tree, extra)
    calls = facts.blocking_calls()
    if not calls:
        return False
    spans = _BodySpans(tree)
    awaited = {id(node.value) for node in facts.idx.nodes(ast.Await)}
    blocking_defs: list[str] = []
    for scope in _blocking_scopes(facts, spans, calls, awaited):
        kind = facts.kind(scope)
        if kind == "async":
            return True
        if kind == "sync":
            blocking_defs.append(scope.name)  # type: ignore[union-attr]
    return _called_from_async(facts, spans, awaited, blocking_defs)


def _blocking_scopes(
    facts: _AstFacts, spans: _BodySpans, calls: list[tuple[ast.Call, str]], awaited: set[int]
) -> list[Optional[ast.AST]]:
    """The scope of each blocking call that is not awaited; a session method counts only where the
    same scope builds a sync session (the visitor tracks sessions per function)."""
    with_session = {id(spans.owner(c)) for c in facts.session_calls()} if any(h == "session" for _, h in calls) else set()
    scopes = []
    for call, how in calls:
        scope = spans.owner(call)
        if id(call) not in awaited and (how != "session" or id(scope) in with_session):
            scopes.append(scope)
    return scopes


def _called_from_async(facts: _AstFacts, spans: _BodySpans, awaited: set[int], names: list[str]) -> bool:
    """Whether a sync def of one of these names is called (not awaited) from async code, through
    further sync defs."""
    if not names:
        return False
    by_name = facts.calls_by_name({d.name for d in facts.idx.nodes(ast.FunctionDef)})
    seen = set(names)
    while names:
        for call in by_name.get(names.pop(), ()):
            if id(call) in awaited:
                continue
            scope = spans.owner(call)
            kind = facts.kind(scope)
            if kind == "async":
                return True
            if kind == "sync" and scope.name not in seen:  # type: ignore[union-attr]
                seen.add(scope.name)  # type: ignore[union-attr]
                names.append(scope.name)  # type: ignore[union-attr]
    return False
