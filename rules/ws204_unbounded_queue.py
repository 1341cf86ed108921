"""WS204 unbounded-queue: an asyncio queue or a deque buffer that can grow without limit."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from pathlib import PurePath
from typing import Any

from wsrefactor.lazy import cst
from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Fix, Invalid, Option, SemanticRule, Valid
from wsrefactor.rules._helpers import add_arg as append_arg
from wsrefactor.rules._helpers import keyword, positional
from wsrefactor.semantic import Analyses, Scope, SemanticModel
from wsrefactor.semantic.buffers import (
    BYTES_TYPES,
    BufferUses,
    Producers,
    int_literal,
    storage_key,
)
from wsrefactor.semantic.detection import Detection, detect_at

_QUEUES = {
    f"asyncio{mod}.{cls}"
    for mod in ("", ".queues")
    for cls in ("Queue", "LifoQueue", "PriorityQueue")
}
_DEQUES = {"collections.deque"}
# Parts of a name that say the deque holds waiters, callbacks or a stack: its length follows the
# program's structure (blocked tasks, registered cleanups, nesting), not a producer's rate, and
# dropping its oldest entries would hang a waiter or skip a cleanup.
_NOT_BUFFER_WORDS = ("waiter", "getters", "putters", "callbacks", "stack")
# A deque annotated as holding these is a queue of waiters, not a buffer of data.
_SYNC_TYPES = re.compile(r"\b(Future|Task|Event|Condition|Semaphore)\b")
_STREAM_WHY = "a byte/stream buffer: a maxlen would drop bytes silently, bound its producer instead"
_STREAM_WORDS = ("chunk", "bytes", "stream", "frame_buf", "read_buf", "recv_buf", "rbuf", "wbuf")
_SENTINEL_WHY = (
    "it receives a close marker (a put of None/a sentinel, or a put in finally/except) that"
    " must not block or be dropped when full; bound it by hand with room for the marker"
)
_NOWAIT_WHY = "its put_nowait producers would raise QueueFull once bounded; add that handling, then the bound"
_NOWAIT_MESSAGE = "put_nowait() into a queue that gets a bound, without QueueFull handling: it would raise when full"
_TEST_NAMES = ("tests", "test")
_WHAT = {"maxsize": "asyncio queue without a positive maxsize", "maxlen": "deque buffer without maxlen"}


class UnboundedQueue(SemanticRule):
    """
    ## What it does
    Finds `asyncio.Queue()`, `asyncio.LifoQueue()` and `asyncio.PriorityQueue()` created
    without a positive `maxsize` (no argument, `0`, or a negative literal), and
    `collections.deque()` buffers created without `maxlen` (or with `maxlen=None`).

    A deque is reported only when it is used as a buffer, that is, stored somewhere that
    outlives one call: an attribute (`self.history = deque()`), a module- or class-level name,
    or a dict value (`self.buffers[client_id] = deque()`). A deque local to a function (a BFS
    work-list) is not reported. Neither is a deque whose size the same class (or module) keeps
    in check by hand: trimmed (`if len(self.buf) > N: self.buf.popleft()`), guarded
    (`while len(self.buf) >= limit: await ...`, `if len(self.buf) >= limit: raise ...`), or
    exposed as the size of a queue class of your own (`def __len__(self): return len(self.buf)`,
    its users bound it). A deque of waiters, callbacks or a stack (named `*waiters`, `_getters`,
    `_putters`, `*callbacks`, `*stack*`, or annotated as holding futures, tasks or events) is not
    a buffer either: its length follows the program's structure, and capping it would drop a
    waiter (hanging it forever) or a cleanup. A `maxsize`/`maxlen` that is not a literal (a name, an
    expression) counts as bounded, but a limit that is only ever `None` in the module
    (`self.max_size: int | None = None`, never set otherwise) bounds nothing, so a
    `len(...) >= self.max_size` guard on it does not count. `queue.Queue` (threads) is out of scope.

    A container nothing writes cannot grow and is not reported: a local variable, or a private
    attribute (`self._q`, which by convention no other module touches), whose every use in the
    module only reads it (`get`, `qsize`, `empty`, `len(...)`, a truth test). Handing it to other
    code (an argument, a return value, another name) counts as a possible write. A public
    attribute may be written from another module, so it is still reported. Deques in test files
    (`tests/`, `test_*.py`, `*_test.py`, `conftest.py`) are fixtures of one test and not reported.
    Decided on the semantic model (`wsrefactor.semantic`); a plain check never parses libcst.

    ## Why is this bad?
    A WebSocket server typically gives each connection a queue of outgoing messages, or keeps
    a history buffer. When the consumer is slower than the producer (a client on a bad
    network, a paused browser tab, a client that stops reading on purpose), every message
    is kept in memory and the process grows until it is killed: one slow client can take the
    whole server down. An unbounded queue also hides the problem: latency grows silently
    instead of failing visibly.

    Adding a bound changes behaviour, and you must decide what happens when it is reached:
    - `await queue.put(item)` now *waits* until there is room (backpressure): the producer
      slows down to the pace of the consumer. If the producer is a broadcast loop, one slow
      client now delays everyone, so prefer `put_nowait` there.
    - `queue.put_nowait(item)` now raises `asyncio.QueueFull`: catch it and either drop the
      message, or disconnect the slow client (for example close the WebSocket with code
      1013, "try again later").
    - a bounded `deque` silently drops the OLDEST items when you append to a full one (from
      the other end for `appendleft`). That is right for a "last N messages" history, wrong
      for data that must all be delivered.

    ## Example
    ```python
    class ConnectionManager:
        def __init__(self):
            self.outgoing: dict[str, asyncio.Queue] = {}
            self.history = deque()

        async def connect(self, client_id, ws):
            self.outgoing[client_id] = asyncio.Queue()
    ```

    ## Use instead
    ```python
    class ConnectionManager:
        def __init__(self):
            self.outgoing: dict[str, asyncio.Queue] = {}
            self.history = deque(maxlen=1000)

        async def connect(self, client_id, ws):
            self.outgoing[client_id] = asyncio.Queue(maxsize=1000)

        async def send(self, client_id, message):
            try:
                self.outgoing[client_id].put_nowait(message)
            except asyncio.QueueFull:
                await self.disconnect(client_id, code=1013)
    ```
    No automatic bound (the finding says why) where a bound would break the program: a queue
    that receives a close marker (`put(None)`, an ALL_CAPS or `*sentinel*` name, any put in a
    `finally`/`except`) — when full, the marker would block the closing producer and stall every
    listener; a queue whose `put_nowait` is passed as a callable
    (`loop.call_soon_threadsafe(q.put_nowait, x)`: a `QueueFull` there is lost in the loop's
    callback); and a byte/stream buffer (a deque annotated with `bytes`, named
    like `*chunks`/`*stream*`, held by a `*Stream*` class, fed `b"..."`/`.encode()`/a value annotated
    `bytes`, or given back the rest of a chunk with `appendleft(chunk[n:])`), where `maxlen` would
    drop bytes silently.

    Each `q.put_nowait(m)` statement (not already inside a `try` catching `QueueFull`) feeding a
    queue that gets a bound is reported too; its fix wraps it in `try: ... except
    asyncio.QueueFull: pass`, the documented overflow policy (the newest message is dropped for
    that consumer; change it to disconnect a consumer that cannot keep up).

    The fix is *unsafe*: it adds the bound (`maxsize=1000`, `maxlen=1000`, or replaces a
    `0`/negative/`None` bound), which changes what `put`, `put_nowait` and `append` do when the
    container is full, as described above. Review every producer after applying it.

    ## Options
    - `maxsize` (int, default `1000`): the bound the fix writes, for queues (`maxsize=`) and
      deques (`maxlen=`). Pick it from the largest burst a healthy client must absorb.
    """

    code = "WS204"
    name = "unbounded-queue"
    category = "asyncio"
    severity = Severity.WARNING
    fix_safety = FixSafety.UNSAFE
    summary = "unbounded queue or buffer; a slow consumer makes it grow until memory runs out"
    tokens = ("Queue", "deque")
    requires_any_import = ("asyncio", "collections")
    fix_node_types = ("Call",)

    options = (
        Option("maxsize", int, 1000, "The bound the fix adds: maxsize= for queues, maxlen= for deques."),
    )

    VALID = [
        # A bounded queue, by literal and by name.
        Valid("""
            import asyncio
            def make(n):
                a = asyncio.Queue(maxsize=100)
                b = asyncio.Queue(n)
                c = asyncio.PriorityQueue(maxsize=n * 2)
                return a, b, c
        """),
        # A deque local to a function: the BFS work-list idiom.
        Valid("""
            from collections import deque
            def reachable(graph, start):
                seen = {start}
                todo = deque([start])
                while todo:
                    node = todo.popleft()
                    for nxt in graph[node]:
                        if nxt not in seen:
                            seen.add(nxt)
                            todo.append(nxt)
                return seen
        """),
        # A deque trimmed by hand on every append.
        Valid("""
            import collections
            class Room:
                def __init__(self):
                    self.history = collections.deque()

                def add(self, message):
                    self.history.append(message)
                    if len(self.history) > 50:
                        self.history.popleft()
        """),
        # queue.Queue is the thread-safe queue module: out of scope.
        Valid("""
            import queue
            jobs = queue.Queue()
        """),
        # A class of the user's own that happens to be named Queue.
        Valid("""
            class Queue:
                def __init__(self):
                    self.items = []

            outbox = Queue()
        """),
        # Bounded deques, and a deque whose maxlen comes from elsewhere.
        Valid("""
            from collections import deque
            LIMIT = 10
            recent = deque(maxlen=100)
            class Log:
                def __init__(self, size):
                    self.lines = deque([], size)
                    self.tail = deque(maxlen=LIMIT)
        """),
        # Deques of waiters, a backpressure loop, and a queue class of the user's own.
        Valid("""
            import asyncio
            from collections import deque

            class Gate:
                def __init__(self):
                    self._waiters = deque()
                    self.pending: deque[asyncio.Future[None]] = deque()

            class Inbox:
                def __init__(self, limit):
                    self.limit = limit
                    self.messages = deque()

                async def put(self, message):
                    while len(self.messages) >= self.limit:
                        await asyncio.sleep(0.1)
                    self.messages.append(message)

            class FrameQueue:
                def __init__(self):
                    self._items = deque()

                def __len__(self):
                    return len(self._items)
        """),
        # Unknown arguments through ** may carry the bound.
        Valid("""
            import asyncio
            def make(**kw):
                return asyncio.Queue(**kw)
        """),
    ]
    INVALID = [
        # A put_nowait producer of a queue that gets a bound gets QueueFull handling.
        Invalid(
            """
            import asyncio

            class Client:
                def __init__(self):
                    self.outbox = asyncio.Queue()

                def offer(self, message):
                    self.outbox.put_nowait(message)
            """,
            """
            import asyncio

            class Client:
                def __init__(self):
                    self.outbox = asyncio.Queue(maxsize=1000)

                def offer(self, message):
                    try:
                        self.outbox.put_nowait(message)
                    except asyncio.QueueFull:
                        pass  # full: this message is dropped (WS204 overflow policy)
            """,
            lines=(5, 8),
        ),
        # Closed by a sentinel in ``finally``: reported, never bounded (the marker must not block).
        Invalid(
            """
            import asyncio

            async def subscribe(source):
                queue = asyncio.Queue()
                try:
                    async for event in source:
                        await queue.put(event)
                finally:
                    await queue.put(None)
            """,
            """
            import asyncio

            async def subscribe(source):
                queue = asyncio.Queue()
                try:
                    async for event in source:
                        await queue.put(event)
                finally:
                    await queue.put(None)
            """,
            lines=(4,),
        ),
        Invalid(
            """
            import asyncio

            class Client:
                def __init__(self, ws):
                    self.ws = ws
                    self.outgoing = asyncio.Queue()
            """,
            """
            import asyncio

            class Client:
                def __init__(self, ws):
                    self.ws = ws
                    self.outgoing = asyncio.Queue(maxsize=1000)
            """,
            lines=(6,),
        ),
        Invalid(
            """
            from asyncio import LifoQueue, PriorityQueue, Queue as Q

            a = Q(0)
            b = LifoQueue(maxsize=0)
            c = PriorityQueue(-1)
            d = Q[str]()
            """,
            """
            from asyncio import LifoQueue, PriorityQueue, Queue as Q

            a = Q(1000)
            b = LifoQueue(maxsize=1000)
            c = PriorityQueue(1000)
            d = Q[str](maxsize=1000)
            """,
            lines=(3, 4, 5, 6),
        ),
        Invalid(
            """
            from collections import deque

            class Room:
                members = deque()

                def __init__(self, backlog):
                    self.history = deque(backlog)
                    self.buffers = {}

                def join(self, client_id):
                    self.buffers[client_id] = deque()
            """,
            """
            from collections import deque

            class Room:
                members = deque(maxlen=1000)

                def __init__(self, backlog):
                    self.history = deque(backlog, maxlen=1000)
                    self.buffers = {}

                def join(self, client_id):
                    self.buffers[client_id] = deque(maxlen=1000)
            """,
            lines=(4, 7, 11),
        ),
        Invalid(
            """
            import collections

            RECENT: collections.deque[str] = collections.deque([], maxlen=None)
            """,
            """
            import collections

            RECENT: collections.deque[str] = collections.deque([], maxlen=1000)
            """,
            lines=(3,),
        ),
        Invalid(
            """
            import asyncio

            async def pump(ws):
                queue = asyncio.Queue(
                    maxsize=0,
                )
                await queue.put(await ws.receive_text())
            """,
            """
            import asyncio

            async def pump(ws):
                queue = asyncio.Queue(
                    maxsize=50,
                )
                await queue.put(await ws.receive_text())
            """,
            lines=(4,),
            options={"maxsize": 50},
        ),
        Invalid(
            """
            from collections import deque

            backlog = deque(
                initial_items,
            )
            """,
            """
            from collections import deque

            backlog = deque(
                initial_items,
                maxlen=1000,
            )
            """,
            lines=(3,),
        ),
    ]

    # -- detection: decided once, on the semantic model ------------------------------------

    @classmethod
    def detect(cls, analyses: Analyses, options: Mapping[str, Any]) -> Iterator[Detection]:
        model = analyses(SemanticModel)
        uses = analyses(BufferUses)
        bound = options["maxsize"]
        can_bound = _positive_int(bound)
        in_tests = _is_test_path(analyses.path)
        reported_puts: set[int] = set()
        for call, scope in model.calls():
            kw = _unbounded_kind(model, uses, call, scope, in_tests)
            if kw is None:
                continue
            target, annotation = _assigned(model, call)
            if target is not None and _never_written(model, uses, target, scope):
                continue  # nothing puts into it: it cannot grow
            producers = uses.of(storage_key(target)) if target is not None else Producers()
            why = None if target is None else _why_not_bounded(analyses, kw, (target, annotation, scope), producers)
            fixable = why is None and can_bound
            yield detect_at(analyses, call, _message(kw, why), fixable=fixable, data=(kw, bound))
            if fixable and kw == "maxsize":
                yield from _nowait_detections(analyses, producers, reported_puts)

    # -- the fix, from the node at the finding's span --------------------------------------

    def fix(self, node: cst.CSTNode, detection: Detection) -> Fix | None:
        kw, bound = detection.data
        if kw == "put_nowait":
            stmt = self.ctx.positions.find(detection.start, detection.end, (cst.SimpleStatementLine,))
            if not isinstance(stmt, cst.SimpleStatementLine):
                return None
            return Fix(
                FixSafety.UNSAFE,
                "drop the message when the queue is full (except asyncio.QueueFull)",
                replacements={stmt: _guarded},
                imports=(("asyncio", None),),
            )
        if not isinstance(node, cst.Call):
            return None
        arg = (keyword(node, "maxsize") or positional(node, 0)) if kw == "maxsize" else _deque_maxlen(node)[1]
        return Fix(
            FixSafety.UNSAFE,
            f"bound it with {kw}={bound} (full: put() waits, put_nowait() raises, deque drops oldest)",
            replacements={node: lambda updated: _bounded(updated, kw, arg, bound) if isinstance(updated, cst.Call) else updated},
        )


# -- deciding -----------------------------------------------------------------------------------


def _unbounded_kind(
    model: SemanticModel, uses: BufferUses, call: ast.Call, scope: Scope, in_tests: bool
) -> str | None:
    """``maxsize`` for an asyncio queue without a positive bound, ``maxlen`` for an unbounded
    deque buffer (not in a test file), else None."""
    func = call.func.value if isinstance(call.func, ast.Subscript) else call.func
    name = model.qualified_name(func, scope)
    if name in _QUEUES:
        return "maxsize" if _unbounded_queue(call) else None
    if name in _DEQUES and not in_tests and _unbounded_deque(call) and _deque_buffer(model, uses, call, scope):
        return "maxlen"
    return None


def _positive_int(bound: object) -> bool:
    """The ``maxsize`` option can be written as a bound."""
    return isinstance(bound, int) and not isinstance(bound, bool) and bound > 0


def _message(kw: str, why: str | None) -> str:
    message = f"{_WHAT[kw]}: it grows without limit when the consumer is slower than the producer"
    return message if why is None else f"{message} (no automatic bound: {why})"


def _nowait_detections(analyses: Analyses, producers: Producers, reported: set[int]) -> Iterator[Detection]:
    """Each lone ``q.put_nowait(m)`` statement feeding a queue that gets a bound, once."""
    for stmt in producers.nowait_statements:
        if id(stmt) not in reported:
            reported.add(id(stmt))
            yield detect_at(analyses, stmt.value, _NOWAIT_MESSAGE, fixable=True, data=("put_nowait", 0))


def _has_star(call: ast.Call) -> bool:
    """``*args``/``**kwargs`` that may carry the bound."""
    return any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords)


def _arg(call: ast.Call, name: str, position: int) -> ast.expr | None:
    """The ``name=`` keyword, else the positional argument at ``position``."""
    for k in call.keywords:
        if k.arg == name:
            return k.value
    plain = [a for a in call.args if not isinstance(a, ast.Starred)]
    return plain[position] if position < len(plain) else None


def _unbounded_queue(call: ast.Call) -> bool:
    """No ``maxsize`` (nor ``*args`` that may carry it), or a literal ``maxsize <= 0``; a name or
    an expression counts as bounded."""
    has_keyword = any(k.arg == "maxsize" for k in call.keywords)
    if _has_star(call) and not has_keyword:
        return False
    arg = _arg(call, "maxsize", 0)
    if arg is None:
        return True
    value = int_literal(arg)
    return value is not None and value <= 0


def _unbounded_deque(call: ast.Call) -> bool:
    """No ``maxlen`` (nor ``*args`` that may carry it), or ``maxlen=None``."""
    has_keyword = any(k.arg == "maxlen" for k in call.keywords)
    if _has_star(call) and not has_keyword:
        return False
    arg = _arg(call, "maxlen", 1)
    return arg is None or (isinstance(arg, ast.Constant) and arg.value is None)


def _targets(model: SemanticModel, call: ast.Call) -> tuple[list[ast.expr], ast.expr | None]:
    """What ``call`` is stored into (``x = call``, ``x: T = call``) and the annotation."""
    stmt = model.statement_of(call)
    if isinstance(stmt, ast.Assign) and stmt.value is call:
        return list(stmt.targets), None
    if isinstance(stmt, ast.AnnAssign) and stmt.value is call:
        return [stmt.target], stmt.annotation
    return [], None


def _assigned(model: SemanticModel, call: ast.Call) -> tuple[ast.expr | None, ast.expr | None]:
    """The one target ``call`` is assigned to, with its annotation (several targets: None)."""
    targets, annotation = _targets(model, call)
    return (targets[0], annotation) if len(targets) == 1 else (None, None)


def _deque_buffer(model: SemanticModel, uses: BufferUses, call: ast.Call, scope: Scope) -> bool:
    """A deque stored where it outlives one call, holding data (not waiters, callbacks or a
    stack), whose size nothing in the same class (or module) keeps in check by hand."""
    targets, annotation = _targets(model, call)
    target = next((t for t in targets if _outlives(t, scope)), None)
    if target is None:
        return False
    last = storage_key(target).rsplit(".", 1)[-1].rstrip("[]").lower()
    if any(word in last for word in _NOT_BUFFER_WORDS):
        return False
    if annotation is not None and _SYNC_TYPES.search(model.analyses.segment(annotation)):
        return False
    cls = _enclosing_class(scope)
    class_attribute = isinstance(target, ast.Name) and scope.kind == "class"
    return not uses.managed(storage_key(target), cls, class_attribute)


def _outlives(target: ast.expr, scope: Scope) -> bool:
    """An attribute, a module- or class-level name, a global, or a subscript of one of those."""
    while isinstance(target, ast.Subscript):
        target = target.value
    if isinstance(target, ast.Attribute):
        return True
    return isinstance(target, ast.Name) and not _is_local(target.id, scope)


def _is_local(name: str, scope: Scope) -> bool:
    """A variable of the function ``scope`` (``global``/``nonlocal`` ones are bound elsewhere)."""
    return scope.kind == "function" and name in scope.bindings


def _enclosing_class(scope: Scope | None) -> Scope | None:
    while scope is not None and scope.kind != "class":
        scope = scope.parent
    return scope


def _never_written(model: SemanticModel, uses: BufferUses, target: ast.expr, scope: Scope) -> bool:
    """Nothing in the module can put into the container: a local variable, or a private
    attribute (``self._q``: not written from other modules by convention), whose every use
    only reads it (``get``, ``qsize``, ``len``, a truth test) — it cannot grow."""
    if isinstance(target, ast.Name) and _is_local(target.id, scope):
        return uses.only_read(_local_loads(model, target.id, scope))
    attr = _private_attribute(model, target, scope)
    if attr is None:
        return False
    return uses.only_read(
        n
        for n in ast.walk(model.analyses.tree)
        if isinstance(n, ast.Attribute) and n.attr == attr and isinstance(n.ctx, ast.Load)
    )


def _local_loads(model: SemanticModel, name: str, scope: Scope) -> Iterator[ast.expr]:
    """Every read of the local ``name`` of function ``scope`` (nested functions included)."""
    for node in ast.walk(scope.node):
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load):
            if any(b.scope is scope for b in model.lookup(name, model.scope_of(node))):
                yield node


def _private_attribute(model: SemanticModel, target: ast.expr, scope: Scope) -> str | None:
    """``x`` of ``self._x``/``cls._x`` (single underscore) of a class of this module."""
    if not (isinstance(target, ast.Attribute) and target.attr.startswith("_") and not target.attr.startswith("__")):
        return None
    return target.attr if model.class_of_receiver(target.value, scope) is not None else None


def _why_not_bounded(
    analyses: Analyses, kw: str, stored: tuple[ast.expr, ast.expr | None, Scope], producers: Producers
) -> str | None:
    """Why a bound would break this container (then it is reported without a fix); ``stored``:
    the target, its annotation and the scope of the assignment."""
    if kw == "maxlen":
        return _STREAM_WHY if _holds_bytes(analyses, stored, producers) else None
    if producers.sentinel:
        return _SENTINEL_WHY
    if producers.nowait:
        return _NOWAIT_WHY
    return None


def _holds_bytes(analyses: Analyses, stored: tuple[ast.expr, ast.expr | None, Scope], producers: Producers) -> bool:
    """A byte/stream buffer: annotated with bytes, named like one, held by a ``*Stream*`` class,
    or fed bytes."""
    target, annotation, scope = stored
    if annotation is not None and BYTES_TYPES.search(analyses.segment(annotation)):
        return True
    name = storage_key(target).rsplit(".", 1)[-1].lower()
    cls = _enclosing_class(scope)
    in_stream = cls is not None and "stream" in cls.name.lower()
    return in_stream or any(w in name for w in _STREAM_WORDS) or producers.bytes_in


def _is_test_path(path: str) -> bool:
    """A test module (the default ``test-files`` globs): a deque there is a fixture of one test."""
    parts = PurePath(path).parts
    name = parts[-1] if parts else ""
    return (
        name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
        or any(p in _TEST_NAMES for p in parts[:-1])
    )


# -- the fix ------------------------------------------------------------------------------------


def _deque_maxlen(call: cst.Call) -> tuple[bool, cst.Arg | None]:
    """``(unbounded, maxlen argument)`` of a ``deque(...)`` call; a ``*args`` may hide the maxlen."""
    maxlen = keyword(call, "maxlen")
    if any(a.star for a in call.args) and maxlen is None:
        return False, None
    arg = maxlen or positional(call, 1)
    return arg is None or (isinstance(arg.value, cst.Name) and arg.value.value == "None"), arg


_OVERFLOW = "# full: this message is dropped (WS204 overflow policy)"


def _guarded(stmt: cst.CSTNode) -> cst.CSTNode:
    """``try: stmt / except asyncio.QueueFull: pass`` (the documented overflow policy)."""
    if not isinstance(stmt, cst.SimpleStatementLine):
        return stmt
    handler = cst.ExceptHandler(
        type=cst.parse_expression("asyncio.QueueFull"),
        body=cst.IndentedBlock(
            [cst.SimpleStatementLine([cst.Pass()], trailing_whitespace=cst.TrailingWhitespace(
                whitespace=cst.SimpleWhitespace("  "), comment=cst.Comment(_OVERFLOW)))]
        ),
    )
    return cst.Try(
        body=cst.IndentedBlock([stmt.with_changes(leading_lines=[])]),
        handlers=[handler],
        leading_lines=stmt.leading_lines,
    )


def _bounded(call: cst.Call, kw: str, arg: cst.Arg | None, bound: int) -> cst.Call:
    """``call`` with its bound set: replace an existing argument's value, or append ``kw=bound``."""
    value = cst.Integer(str(bound))
    if arg is not None:
        index = _arg_index(call, kw, arg)
        if index is not None:
            args = list(call.args)
            args[index] = args[index].with_changes(value=value)
            return call.with_changes(args=args)
    new = cst.Arg(
        keyword=cst.Name(kw),
        value=value,
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )
    return append_arg(call, new)


def _arg_index(call: cst.Call, kw: str, original: cst.Arg) -> int | None:
    """Where the bound argument sits in the (possibly updated) call."""
    if original.keyword is not None:
        for i, a in enumerate(call.args):
            if a.keyword is not None and a.keyword.value == kw:
                return i
        return None
    position = 0 if kw == "maxsize" else 1
    plain = [i for i, a in enumerate(call.args) if a.keyword is None and not a.star]
    return plain[position] if position < len(plain) else None
