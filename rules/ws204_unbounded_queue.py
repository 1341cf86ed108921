"""WS204 unbounded-queue: an asyncio queue or a deque buffer that can grow without limit."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from typing import Any

import libcst as cst

from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import FileContext, Fix, Invalid, Option, Rule, Valid
from wsrefactor.rules._ast_twins import (
    imports_from,
    int_literal,
    may_call,
    prefixes,
    source_text,
)
from wsrefactor.rules._helpers import add_arg as append_arg
from wsrefactor.rules._helpers import call_name, int_value, keyword, positional
from wsrefactor.rules._prefilter import index
from wsrefactor.walk import visit

_QUEUES = {
    f"asyncio{mod}.{cls}"
    for mod in ("", ".queues")
    for cls in ("Queue", "LifoQueue", "PriorityQueue")
}
_DEQUES = {"collections.deque"}
_IMPORTS = prefixes(_QUEUES | _DEQUES)
_TRIM_METHODS = {"popleft", "pop", "clear"}
_SIZE_METHODS = {"__len__", "qsize", "_qsize"}
# Parts of a name that say the deque holds waiters, callbacks or a stack: its length follows the
# program's structure (blocked tasks, registered cleanups, nesting), not a producer's rate, and
# dropping its oldest entries would hang a waiter or skip a cleanup.
_NOT_BUFFER_WORDS = ("waiter", "getters", "putters", "callbacks", "stack")
# A deque annotated as holding these is a queue of waiters, not a buffer of data.
_SYNC_TYPES = re.compile(r"\b(Future|Task|Event|Condition|Semaphore)\b")
_BYTES_TYPES = re.compile(r"\b(bytes|bytearray|memoryview)\b")
_STREAM_WHY = "a byte/stream buffer: a maxlen would drop bytes silently, bound its producer instead"
_STREAM_WORDS = ("chunk", "bytes", "stream", "frame_buf", "read_buf", "recv_buf", "rbuf", "wbuf")


def _deque_maxlen(call: cst.Call) -> tuple[bool, cst.Arg | None]:
    """``(unbounded, maxlen argument)`` of a ``deque(...)`` call; a ``*args`` may hide the maxlen."""
    maxlen = keyword(call, "maxlen")
    if any(a.star for a in call.args) and maxlen is None:
        return False, None
    arg = maxlen or positional(call, 1)
    return arg is None or (isinstance(arg.value, cst.Name) and arg.value.value == "None"), arg


class UnboundedQueue(Rule):
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
    expression) counts as bounded. `queue.Queue` (threads) is out of scope.

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
    like `*chunks`/`*stream*`, or fed `b"..."`/`.encode()`), where `maxlen` would drop bytes silently.

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

    @classmethod
    def wants(cls, text: str, tree: ast.Module | None, options: Mapping[str, Any]) -> bool:
        """An asyncio queue without a positive bound, or an unbounded deque stored where it
        outlives the call and not named or typed as a deque of waiters (the ``ast`` twin of the
        visit; only the hand-written size checks are left to it)."""
        if not cls.matches_text(text):
            return False
        if tree is None:
            return True
        if not imports_from(tree, _IMPORTS):
            return False
        return any(_unbounded_queue(tree, call) for call in index(tree).nodes(ast.Call)) or any(
            _may_buffer(tree, text, stmt, scope) for stmt, scope in _unbounded_deques(tree)
        )

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

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self._managed: list[tuple[cst.ClassDef | None, str]] | None = None
        self._annotation: cst.BaseExpression | None = None
        self._locals: dict[int, tuple[set[str], set[str]]] = {}
        self._puts: dict[str, _Producers] | None = None
        self._reported_puts: set[int] = set()

    # -- visiting -------------------------------------------------------------------------

    def visit_Call(self, node: cst.Call) -> None:
        name = call_name(self.ctx, node)
        if name in _QUEUES:
            self._check_queue(node)
        elif name in _DEQUES:
            self._check_deque(node)

    def _check_queue(self, call: cst.Call) -> None:
        if any(a.star for a in call.args) and keyword(call, "maxsize") is None:
            return  # *args/**kwargs may carry the bound
        arg = keyword(call, "maxsize") or positional(call, 0)
        if arg is not None:
            value = int_value(arg.value)
            if value is None or value > 0:
                return  # a name or an expression: assume the author bounded it
        self._report(call, "maxsize", arg, "asyncio queue without a positive maxsize")

    def _check_deque(self, call: cst.Call) -> None:
        unbounded, arg = _deque_maxlen(call)
        if not unbounded:
            return
        target = self._buffer_target(call)
        if target is None or self._holds_waiters(target) or self._size_managed(target):
            return
        self._report(call, "maxlen", arg, "deque buffer without maxlen")

    def _why_not_bounded(self, call: cst.Call, kw: str) -> str | None:
        """Why a bound would break this container (then it is reported without a fix)."""
        target = self._assigned_target(call)
        if target is None:
            return None
        producers = self._producers().get(_key(target), _Producers())
        if kw == "maxlen":
            return _STREAM_WHY if self._holds_bytes(target, producers) else None
        if producers.sentinel:
            return (
                "it receives a close marker (a put of None/a sentinel, or a put in finally/except) that"
                " must not block or be dropped when full; bound it by hand with room for the marker"
            )
        if producers.nowait:
            return "its put_nowait producers would raise QueueFull once bounded; add that handling, then the bound"
        return None

    def _holds_bytes(self, target: cst.BaseExpression, producers: _Producers) -> bool:
        """A byte/stream buffer: annotated with bytes, named like one, or fed bytes."""
        if self._annotation is not None and _BYTES_TYPES.search(cst.Module([]).code_for_node(self._annotation)):
            return True
        name = _key(target).rsplit(".", 1)[-1].lower()
        return any(w in name for w in _STREAM_WORDS) or producers.bytes_in

    def _assigned_target(self, call: cst.Call) -> cst.BaseExpression | None:
        parent = self.ctx.parent()
        if isinstance(parent, cst.Assign) and parent.value is call and len(parent.targets) == 1:
            return parent.targets[0].target
        if isinstance(parent, cst.AnnAssign) and parent.value is call:
            self._annotation = parent.annotation.annotation
            return parent.target
        return None

    def _producers(self) -> dict[str, _Producers]:
        if self._puts is None:
            finder = _ProducerScan()
            visit(self.ctx.module, finder)
            self._puts = finder.by_key
        return self._puts

    def _report(self, call: cst.Call, kw: str, arg: cst.Arg | None, what: str) -> None:
        bound = self.opts["maxsize"]
        message = f"{what}: it grows without limit when the consumer is slower than the producer"
        fix = None
        self._annotation = None
        why = self._why_not_bounded(call, kw)
        if why is not None:
            message = f"{message} (no automatic bound: {why})"
        elif isinstance(bound, int) and not isinstance(bound, bool) and bound > 0:
            fix = self._bound_fix(call, kw, arg, bound)
        self.report(call, message, fix=fix)

    def _bound_fix(self, call: cst.Call, kw: str, arg: cst.Arg | None, bound: int) -> Fix:
        """The bound; each ``put_nowait`` statement feeding the queue is reported on its own, with
        ``QueueFull`` handling as its fix (``_report_producers``)."""
        if kw == "maxsize":
            self._report_producers(call)
        return Fix(
            FixSafety.UNSAFE,
            f"bound it with {kw}={bound} (full: put() waits, put_nowait() raises, deque drops oldest)",
            replacements={call: lambda updated: _bounded(updated, kw, arg, bound)},
        )

    def _report_producers(self, call: cst.Call) -> None:
        target = self._assigned_target(call)
        producers = self._producers().get(_key(target)) if target is not None else None
        for stmt in producers.nowait_statements if producers is not None else ():
            if id(stmt) in self._reported_puts:
                continue
            self._reported_puts.add(id(stmt))
            put = stmt.body[0].value  # type: ignore[attr-defined]
            self.report(
                put,
                "put_nowait() into a queue that gets a bound, without QueueFull handling: it would raise when full",
                fix=Fix(
                    FixSafety.UNSAFE,
                    "drop the message when the queue is full (except asyncio.QueueFull)",
                    replacements={stmt: _guarded},
                    imports=(("asyncio", None),),
                ),
                stmt=stmt,
                scope="",
            )

    # -- is this deque a buffer? ----------------------------------------------------------

    def _buffer_target(self, call: cst.Call) -> cst.BaseExpression | None:
        """The storage target when ``call`` is stored where it outlives one call, else None."""
        parent = self.ctx.parent()
        self._annotation = None
        if isinstance(parent, cst.Assign) and parent.value is call:
            targets = [t.target for t in parent.targets]
        elif isinstance(parent, cst.AnnAssign) and parent.value is call:
            targets = [parent.target]
            self._annotation = parent.annotation.annotation
        else:
            return None
        for target in targets:
            if self._outlives_call(target):
                return target
        return None

    def _holds_waiters(self, target: cst.BaseExpression) -> bool:
        """A deque of waiters (futures, events, tasks), callbacks or a stack, not of data."""
        last = _key(target).rsplit(".", 1)[-1].rstrip("[]").lower()
        if any(word in last for word in _NOT_BUFFER_WORDS):
            return True
        if self._annotation is not None:
            text = cst.Module([]).code_for_node(self._annotation)
            return _SYNC_TYPES.search(text) is not None
        return False

    def _outlives_call(self, target: cst.BaseExpression) -> bool:
        if isinstance(target, cst.Attribute):
            return True
        if isinstance(target, cst.Subscript):
            base = target.value
            while isinstance(base, cst.Subscript):
                base = base.value
            if isinstance(base, cst.Attribute):
                return True
            return isinstance(base, cst.Name) and not self._is_local(base.value)
        if isinstance(target, cst.Name):
            return not self._is_local(target.value)
        return False

    def _is_local(self, name: str) -> bool:
        """Whether ``name`` is a local variable of the innermost enclosing function."""
        for node in reversed(self.ctx.ancestors[:-1]):
            if isinstance(node, cst.ClassDef):
                return False
            if isinstance(node, cst.FunctionDef):
                bound, declared = self._function_names(node)
                return name in bound and name not in declared
        return False  # module level

    def _function_names(self, func: cst.FunctionDef) -> tuple[set[str], set[str]]:
        key = id(func)
        if key not in self._locals:
            collector = _LocalNames()
            visit(func.params, collector)
            visit(func.body, collector)
            self._locals[key] = (collector.bound, collector.declared)
        return self._locals[key]

    # -- trimmed by hand? -----------------------------------------------------------------

    def _size_managed(self, target: cst.BaseExpression) -> bool:
        """Whether the same class (or module) keeps the deque's size in check by hand."""
        managed = self._size_checks()
        key = _key(target)
        cls = self._enclosing_class()
        if isinstance(target, cst.Name) and cls is not None:
            # A class attribute: managed as self.x / cls.x in the class, ClassName.x anywhere.
            keys = {key, f"self.{key}", f"cls.{key}"}
            qualified = f"{cls.name.value}.{key}"
            return any((c is cls and k in keys) or k == qualified for c, k in managed)
        if key.startswith(("self.", "cls.")):
            return any(c is cls and k == key for c, k in managed)
        return any(k == key for _, k in managed)

    def _size_checks(self) -> list[tuple[cst.ClassDef | None, str]]:
        """``(class, buffer)`` of every hand-written size check in the module, found once per file."""
        if self._managed is None:
            finder = _SizeChecks(self.ctx)
            visit(self.ctx.module, finder)
            self._managed = finder.managed
        return self._managed

    def _enclosing_class(self) -> cst.ClassDef | None:
        for node in reversed(self.ctx.ancestors):
            if isinstance(node, cst.ClassDef):
                return node
        return None


def _key(node: cst.BaseExpression) -> str:
    """A comparable text for a storage target; every subscript key counts as the same."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_key(node.value)}.{node.attr.value}"
    if isinstance(node, cst.Subscript):
        return f"{_key(node.value)}[]"
    return cst.Module([]).code_for_node(node)


class _Producers:
    """How a container (by storage key) is fed, in this module."""

    def __init__(self) -> None:
        self.sentinel = False  # a put of None / an ALL_CAPS or ``_sentinel`` name / in finally or except
        self.nowait = False  # put_nowait used other than as a plain statement (a callback: call_soon_threadsafe)
        self.bytes_in = False  # a bytes literal or ``.encode()`` appended
        # ``q.put_nowait(x)`` statements of their own, not guarded: the fix guards them
        self.nowait_statements: list[cst.SimpleStatementLine] = []


def _is_marker(value: cst.BaseExpression) -> bool:
    if isinstance(value, cst.Name):
        name = value.value
        return name == "None" or (name.isupper() and len(name) > 1) or "sentinel" in name.lower()
    if isinstance(value, cst.Attribute):
        return _is_marker(value.attr)
    return False


class _ProducerScan(cst.CSTVisitor):
    """Every ``put``/``put_nowait``/``append`` on a receiver, and ``x.put_nowait`` passed as a callable."""

    def __init__(self) -> None:
        super().__init__()
        self.by_key: dict[str, _Producers] = {}
        self.cleanup = 0  # depth of finally/except blocks
        self.guarded: list[bool] = []  # per enclosing try: does it catch QueueFull?
        self.statement: cst.SimpleStatementLine | None = None

    def _of(self, receiver: cst.BaseExpression) -> _Producers:
        return self.by_key.setdefault(_key(receiver), _Producers())

    def visit_Finally(self, node: cst.Finally) -> None:
        self.cleanup += 1

    def leave_Finally(self, original_node: cst.Finally) -> None:
        self.cleanup -= 1

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self.cleanup += 1

    def leave_ExceptHandler(self, original_node: cst.ExceptHandler) -> None:
        self.cleanup -= 1

    def visit_Try(self, node: cst.Try) -> None:
        types = [cst.Module([]).code_for_node(h.type) for h in node.handlers if h.type is not None]
        self.guarded.append(any("QueueFull" in t or t.strip() in ("Exception", "BaseException") for t in types))

    def leave_Try(self, original_node: cst.Try) -> None:
        self.guarded.pop()

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.statement = node

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        self.statement = None

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value != "put_nowait" or any(self.guarded):
            return
        stmt = self.statement
        if stmt is not None and _puts_nowait_alone(stmt, node):
            self._of(node.value).nowait_statements.append(stmt)
        else:
            self._of(node.value).nowait = True

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute):
            return
        method = func.attr.value
        value = node.args[0].value if node.args and not node.args[0].star else None
        if method in ("put", "put_nowait"):
            self._on_put(func.value, value)
        elif method in ("append", "appendleft", "extend") and value is not None and _is_bytes(value):
            self._of(func.value).bytes_in = True


    def _on_put(self, receiver: cst.BaseExpression, value: cst.BaseExpression | None) -> None:
        """A put in cleanup code, or of a marker, must be delivered: the queue takes a sentinel."""
        if self.cleanup or (value is not None and _is_marker(value)):
            self._of(receiver).sentinel = True
        else:
            self._of(receiver)


def _puts_nowait_alone(stmt: cst.SimpleStatementLine, attr: cst.Attribute) -> bool:
    """``stmt`` is just ``<attr>(...)`` (``q.put_nowait(x)``), so it can be wrapped in a ``try``."""
    if len(stmt.body) != 1 or not isinstance(stmt.body[0], cst.Expr):
        return False
    call = stmt.body[0].value
    return isinstance(call, cst.Call) and call.func is attr


_OVERFLOW = "# full: this message is dropped (WS204 overflow policy)"


def _guarded(stmt: cst.SimpleStatementLine) -> cst.Try:
    """``try: stmt / except asyncio.QueueFull: pass`` (the documented overflow policy)."""
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


def _is_bytes(value: cst.BaseExpression) -> bool:
    """A bytes literal or an ``.encode()`` result."""
    if isinstance(value, cst.SimpleString):
        return value.prefix.lower().startswith("b")
    return isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "encode"


class _LocalNames(cst.CSTVisitor):
    """Names bound in a function (parameters, assignments, loops, with), and global/nonlocal ones."""

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.declared: set[str] = set()

    def visit_Param(self, node: cst.Param) -> None:
        self.bound.add(node.name.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._bind(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._bind(node.name)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target)

    def visit_Global(self, node: cst.Global) -> None:
        self.declared.update(n.name.value for n in node.names)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.declared.update(n.name.value for n in node.names)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.bound.add(node.name.value)
        return False  # nested functions have their own locals

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.bound.add(node.name.value)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def _bind(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self.bound.add(target.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._bind(element.value)
        elif isinstance(target, cst.StarredElement):
            self._bind(target.value)


class _SizeChecks(cst.CSTVisitor):
    """Where a module keeps a container's size in check by hand, with the innermost class.

    - a trim: ``if``/``while`` ``len(X) > N`` (``>=``, ``==``, or flipped) whose body pops or
      clears ``X``;
    - a guard: ``len(X) > N`` / ``len(X) >= N`` compared anywhere (``while len(X) >= limit:
      await ...`` backpressure, ``if len(X) >= limit: raise/return``), N not trivially small;
    - container storage: a ``__len__``/``qsize`` method returning ``len(X)``: the class is a queue
      abstraction whose users bound it (as asyncio.Queue bounds its own deque).
    """

    def __init__(self, ctx: FileContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.classes: list[cst.ClassDef] = []
        self.managed: list[tuple[cst.ClassDef | None, str]] = []

    def _add(self, node: cst.BaseExpression) -> None:
        self.managed.append((self.classes[-1] if self.classes else None, _key(node)))

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.append(node)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.classes.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if node.name.value not in _SIZE_METHODS or not isinstance(node.body, cst.IndentedBlock):
            return
        for stmt in node.body.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Return) and small.value is not None:
                        measured = self._len_of(small.value)
                        if measured is not None:
                            self._add(measured)

    def visit_If(self, node: cst.If) -> None:
        self._trim(node.test, node.body)

    def visit_While(self, node: cst.While) -> None:
        self._trim(node.test, node.body)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        left = node.left
        for target in node.comparisons:
            op, right = target.operator, target.comparator
            measured = None
            if isinstance(op, (cst.GreaterThan, cst.GreaterThanEqual)):
                measured, bound = self._len_of(left), right
            elif isinstance(op, (cst.LessThan, cst.LessThanEqual)):
                measured, bound = self._len_of(right), left
            if measured is not None and not _trivial(bound, op):
                self._add(measured)
            left = right

    def _trim(self, test: cst.BaseExpression, body: cst.BaseSuite) -> None:
        if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
            return
        op, right = test.comparisons[0].operator, test.comparisons[0].comparator
        if not isinstance(op, cst.Equal):
            return  # > and >= are guards already (visit_Comparison)
        measured = self._len_of(test.left) or self._len_of(right)
        if measured is None:
            return
        popped = _PopFinder()
        visit(body, popped)
        if _key(measured) in popped.receivers:
            self._add(measured)

    def _len_of(self, node: cst.BaseExpression) -> cst.BaseExpression | None:
        if (
            isinstance(node, cst.Call)
            and len(node.args) == 1
            and not node.args[0].star
            and self.ctx.qualname(node.func) == "builtins.len"
        ):
            return node.args[0].value
        return None


def _trivial(bound: cst.BaseExpression, op: cst.BaseCompOp) -> bool:
    """``len(X) > 0`` / ``len(X) >= 1`` test for emptiness, not for a size limit."""
    value = int_value(bound)
    if value is None:
        return False
    strict = isinstance(op, (cst.GreaterThan, cst.LessThan))
    return value < 1 if strict else value < 2


class _PopFinder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.receivers: set[str] = set()

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in _TRIM_METHODS:
            self.receivers.add(_key(func.value))


# -- the fix --------------------------------------------------------------------------------


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


# -- the prefilter: the visit's conditions on Python's ast, erring only towards a file ---------


def _ast_star(call: ast.Call) -> bool:
    return any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords)


def _ast_arg(call: ast.Call, name: str, position: int) -> ast.expr | None:
    """``keyword(call, name) or positional(call, position)``."""
    for k in call.keywords:
        if k.arg == name:
            return k.value
    plain = [a for a in call.args if not isinstance(a, ast.Starred)]
    return plain[position] if position < len(plain) else None


def _unbounded_queue(tree: ast.Module, call: ast.Call) -> bool:
    """What ``_check_queue`` reports: no ``maxsize`` (nor ``*args`` that may carry it), or a
    literal ``maxsize <= 0``."""
    has_keyword = any(k.arg == "maxsize" for k in call.keywords)
    if _ast_star(call) and not has_keyword:
        return False
    arg = _ast_arg(call, "maxsize", 0)
    value = None if arg is None else int_literal(arg)
    return (arg is None or (value is not None and value <= 0)) and may_call(tree, call, _QUEUES)


def _unbounded_deque(call: ast.Call) -> bool:
    """``_deque_maxlen``: no ``maxlen`` (nor ``*args`` that may carry it), or ``maxlen=None``."""
    has_keyword = any(k.arg == "maxlen" for k in call.keywords)
    if _ast_star(call) and not has_keyword:
        return False
    arg = _ast_arg(call, "maxlen", 1)
    return arg is None or (isinstance(arg, ast.Constant) and arg.value is None)


def _unbounded_deques(tree: ast.Module) -> Iterator[tuple[ast.Assign | ast.AnnAssign, ast.AST | None]]:
    """Assignments of an unbounded deque, with their innermost def or class (None: module)."""
    scopes = index(tree).nodes(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    for stmt in index(tree).nodes(ast.Assign, ast.AnnAssign):
        call = stmt.value
        if isinstance(call, ast.Call) and _unbounded_deque(call) and may_call(tree, call, _DEQUES):
            yield stmt, _innermost(stmt, scopes)


def _innermost(stmt: ast.stmt, scopes: list[ast.AST]) -> ast.AST | None:
    start = (stmt.lineno, stmt.col_offset)
    end = (stmt.end_lineno, stmt.end_col_offset)
    best: ast.AST | None = None
    for scope in scopes:
        if (scope.lineno, scope.col_offset) < start and end <= (scope.end_lineno, scope.end_col_offset):
            if best is None or (scope.lineno, scope.col_offset) > (best.lineno, best.col_offset):
                best = scope
    return best


def _may_buffer(tree: ast.Module, text: str, stmt: ast.Assign | ast.AnnAssign, scope: ast.AST | None) -> bool:
    """``_buffer_target`` and ``_holds_waiters``: a target that outlives the call, unless its name
    or annotation says it holds waiters (``_size_managed`` is left to the visit). Any such target
    counts: where the visit takes the first, ``_ast_local`` may see fewer locals than it."""
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    if not any(_ast_outlives(t, scope) and not _waiters_name(t) for t in targets):
        return False
    if isinstance(stmt, ast.AnnAssign):
        # The annotation's own text; libcst's also holds the parentheses around it, so a match
        # here is a match there.
        return _SYNC_TYPES.search(source_text(text, stmt.annotation)) is None
    return True


def _waiters_name(target: ast.expr) -> bool:
    """The last name of the target (``x`` in ``self.x[k]``) says waiters, callbacks or a stack."""
    while isinstance(target, ast.Subscript):
        target = target.value
    last = target.attr if isinstance(target, ast.Attribute) else target.id if isinstance(target, ast.Name) else ""
    return any(word in last.lower() for word in _NOT_BUFFER_WORDS)


def _ast_outlives(target: ast.expr, scope: ast.AST | None) -> bool:
    if isinstance(target, ast.Attribute):
        return True
    if isinstance(target, ast.Subscript):
        base = target.value
        while isinstance(base, ast.Subscript):
            base = base.value
        if isinstance(base, ast.Attribute):
            return True
        return isinstance(base, ast.Name) and not _ast_local(base.id, scope)
    if isinstance(target, ast.Name):
        return not _ast_local(target.id, scope)
    return False


def _ast_local(name: str, scope: ast.AST | None) -> bool:
    """``_is_local``: a name bound in the innermost function and not declared global/nonlocal
    (a subset of what ``_LocalNames`` finds, so never local where the visit says it is not)."""
    if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    bound, declared = _ast_function_names(scope)
    return name in bound and name not in declared


def _ast_function_names(func: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[set[str], set[str]]:
    args = func.args
    params = (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg)
    bound = {a.arg for a in params if a is not None}
    declared: set[str] = set()
    stack: list[ast.AST] = list(func.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names)
        bound.update(_ast_binds(node))
        stack.extend(ast.iter_child_nodes(node))
    return bound, declared


def _ast_binds(node: ast.AST) -> Iterator[str]:
    """Names ``_LocalNames`` binds at this node."""
    if isinstance(node, ast.Assign):
        for target in node.targets:
            yield from _ast_target_names(target)
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor, ast.NamedExpr)):
        yield from _ast_target_names(node.target)
    elif isinstance(node, ast.withitem) and node.optional_vars is not None:
        yield from _ast_target_names(node.optional_vars)
    elif isinstance(node, ast.ExceptHandler) and node.name:
        yield node.name
    elif isinstance(node, ast.alias) and node.asname:
        yield node.asname


def _ast_target_names(target: ast.expr) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _ast_target_names(element)
    elif isinstance(target, ast.Starred):
        yield from _ast_target_names(target.value)
