"""WS203 sequential-broadcast: a loop that awaits a send to each connection in turn."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import libcst as cst

from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import FileContext, Fix, Invalid, Option, Rule, Valid
from wsrefactor.rules._helpers import callee, receiver
from wsrefactor.rules._prefilter import ast_facts, last_name
from wsrefactor.walk import visit

# A call whose name looks like a send: send, send_text, sendall, sendMessage, send_personal_message
# (and names holding the word: safe_send, try_send).
_SEND = re.compile(r"send(?:$|_|all$|to$|msg$|[A-Z])")
# Awaited reads: a loop that reads the reply from a shared endpoint is a conversation, not a fan-out.
_RECEIVE = re.compile(r"(?:recv|receive|read)(?:$|_|from$|line$|exactly$|[A-Z])")
# Words (split on ``_``/digits/camelCase, plural ``s`` dropped) that name a connection or a
# collection of them, and words that name something sent (a loop over those is not a fan-out).
_CONN_WORDS = frozenset(
    """ws wss websocket socket sock conn connection client peer sid session subscriber listener
    member participant user channel transport writer consumer observer watcher recipient
    receiver sink player viewer follower room active audience stream""".split()
)
_PAYLOAD_WORDS = frozenset(
    """msg message item chunk data datum event payload frame line part batch record row update
    text blob packet notification entry obj value result response reply command cmd delta patch
    page piece block buf buffer byte json body content tick point sample file path key word""".split()
)
_ITER_NOISE = frozenset({"self", "cls", "items", "values", "keys", "copy", "list", "set", "tuple", "get"})
_ATOMS = (
    cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.List, cst.Dict, cst.Set, cst.ListComp,
    cst.SetComp, cst.DictComp, cst.GeneratorExp, cst.SimpleString, cst.ConcatenatedString,
)


def _words(name: str) -> list[str]:
    parts = re.split(r"[_\d]+|(?<=[a-z])(?=[A-Z])", name)
    out = []
    for part in parts:
        part = part.lower()
        if len(part) > 3 and part.endswith("s"):
            part = part[:-1]
        if part:
            out.append(part)
    return out


def _conn_like(name: str) -> bool:
    return any(w in _CONN_WORDS for w in _words(name))


def _payload_like(name: str) -> bool:
    return any(w in _PAYLOAD_WORDS for w in _words(name))


def _last_name(expr: cst.BaseExpression | None) -> str | None:
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        return expr.attr.value
    return None


def _root_name(expr: cst.BaseExpression | None) -> str | None:
    while isinstance(expr, (cst.Attribute, cst.Subscript)):
        expr = expr.value
    return expr.value if isinstance(expr, cst.Name) else None


def _target_names(target: cst.BaseExpression) -> list[str] | None:
    """Names bound by a loop target; None when it holds something else (attributes, stars)."""
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        names: list[str] = []
        for el in target.elements:
            if isinstance(el, cst.StarredElement):
                return None
            inner = _target_names(el.value)
            if inner is None:
                return None
            names.extend(inner)
        return names
    return None


def _flat_names(target: cst.BaseExpression) -> list[str] | None:
    """Names of a plain ``a`` or ``a, b`` target (what can become parameters)."""
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)) and all(
        isinstance(el, cst.Element) and isinstance(el.value, cst.Name) for el in target.elements
    ):
        return [el.value.value for el in target.elements]  # type: ignore[attr-defined]
    return None


def _paren(expr: cst.BaseExpression) -> cst.BaseExpression:
    """Parenthesize an iterable that would not read right after ``for x in`` of a genexp."""
    if isinstance(expr, _ATOMS) or expr.lpar:
        return expr
    return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


class _Contains(cst.CSTVisitor):
    """Does a subtree hold a node of given types (not looking into nested scopes if asked)?"""

    def __init__(self, types: tuple[type, ...], scopes: bool) -> None:
        super().__init__()
        self.types = types
        self.scopes = scopes
        self.hit = False

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.hit:
            return False
        if isinstance(node, self.types):
            self.hit = True
            return False
        return not (self.scopes and isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef)))


def _contains(node: cst.CSTNode, types: tuple[type, ...], skip_scopes: bool = True) -> bool:
    finder = _Contains(types, skip_scopes)
    visit(node, finder)
    return finder.hit


def _escapes(node: cst.CSTNode, in_loop: bool = False) -> bool:
    """``break``/``continue`` of the loop itself, or ``return``/``yield``/``nonlocal``/``global``.

    Nested functions and classes are skipped; ``break``/``continue`` in a nested loop's body
    belong to that loop (those in its ``else`` do not).
    """
    return any(_child_escapes(child, in_loop) for child in node.children)


def _child_escapes(child: cst.CSTNode, in_loop: bool) -> bool:
    """``_escapes`` for one child: the statement itself, then what it contains."""
    if isinstance(child, (cst.Return, cst.Yield, cst.Nonlocal, cst.Global)):
        return True
    if isinstance(child, (cst.Break, cst.Continue)):
        return not in_loop
    if isinstance(child, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
        return False
    if isinstance(child, (cst.For, cst.While)):
        return any(_escapes(part, in_loop=in_loop or part is child.body) for part in child.children)
    return _escapes(child, in_loop)


class _Bindings(cst.CSTVisitor):
    """Names bound by assignment-like statements in a subtree (nested scopes: only their name)."""

    def __init__(self, skip: cst.CSTNode | None = None) -> None:
        super().__init__()
        self.skip = skip
        self.bound: set[str] = set()

    def _bind(self, target: cst.CSTNode) -> None:
        if isinstance(target, cst.Name):
            self.bound.add(target.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for el in target.elements:
                self._bind(el.value)
        elif isinstance(target, cst.StarredElement):
            self._bind(target.value)

    def on_visit(self, node: cst.CSTNode) -> bool:
        if node is self.skip:
            return False
        if isinstance(node, cst.AssignTarget):
            self._bind(node.target)
        elif isinstance(node, (cst.AugAssign, cst.AnnAssign)):
            self._bind(node.target)
        elif isinstance(node, cst.NamedExpr):
            self._bind(node.target)
        elif isinstance(node, cst.For):
            self._bind(node.target)
        elif isinstance(node, cst.AsName):
            self._bind(node.name)
        elif isinstance(node, cst.Param):
            self.bound.add(node.name.value)
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            self.bound.add(node.name.value)
            return False
        elif isinstance(node, (cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)):
            return False  # their own scope
        return True


def _bindings(node: cst.CSTNode, skip: cst.CSTNode | None = None) -> set[str]:
    finder = _Bindings(skip)
    visit(node, finder)
    return finder.bound


class _Names(cst.CSTVisitor):
    """Every identifier in a subtree."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)


class _ReadAfter(cst.CSTVisitor):
    """Names whose first occurrence after a given node (source order) reads the old value.

    A later ``for name in ...`` or ``name = ...`` rebinds it first, which is not a read.
    """

    def __init__(self, after: cst.CSTNode, names: Sequence[str]) -> None:
        super().__init__()
        self.after = after
        self.passed = False
        self.pending = set(names)
        self.read: set[str] = set()

    def _reads(self, node: cst.CSTNode) -> None:
        finder = _Names()
        visit(node, finder)
        self.read |= finder.names & self.pending
        self.pending -= finder.names

    def _binds(self, names: set[str]) -> None:
        self.pending -= names

    def on_visit(self, node: cst.CSTNode) -> bool:
        if not self.pending:
            return False
        if not self.passed:
            return node is not self.after
        if isinstance(node, cst.For):
            self._reads(node.iter)
            self._binds(set(_target_names(node.target) or ()))
        elif isinstance(node, cst.Assign):
            self._reads(node.value)
            self._binds({t.target.value for t in node.targets if isinstance(t.target, cst.Name)})
        elif isinstance(node, cst.Name) and node.value in self.pending:
            self.read.add(node.value)
            self.pending.discard(node.value)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if original_node is self.after:
            self.passed = True


@dataclass
class _Send:
    call: cst.Call
    conn: str


class _SendFinder(cst.CSTVisitor):
    """Calls under an ``await`` (in this loop body, not in nested scopes) that send to a target."""

    def __init__(self, rule: SequentialBroadcast, targets: Sequence[str], iter_conn: bool) -> None:
        super().__init__()
        self.rule = rule
        self.targets = targets
        self.iter_conn = iter_conn
        self.awaits = 0
        self.found: list[_Send] = []
        # The body awaits a read from something other than the connection (send, then read
        # the reply on a shared socket): sending concurrently would mix the replies up.
        self.shared_reply = False

    def visit_Await(self, node: cst.Await) -> None:
        self.awaits += 1

    def leave_Await(self, original_node: cst.Await) -> None:
        self.awaits -= 1

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Call(self, node: cst.Call) -> None:
        if not self.awaits:
            return
        conn = _connection(node, self.targets, self.iter_conn)
        if conn is not None:
            self.found.append(_Send(node, conn))
            return
        name = _last_name(callee(node))
        if name is not None and _RECEIVE.match(name.lstrip("_")):
            if _root_name(receiver(node)) not in self.targets:
                self.shared_reply = True


def _send_name(name: str) -> bool:
    return bool(_SEND.match(name.lstrip("_"))) or "send" in _words(name)


def _connection(call: cst.Call, targets: Sequence[str], iter_conn: bool) -> str | None:
    """The loop-target name this call sends to, if it is a send to one."""
    name = _last_name(callee(call))
    if name is None or not _send_name(name):
        return None
    root = _root_name(receiver(call))
    if root in targets:
        return root  # ws.send_text(...), client.ws.send(...)
    return _passed_connection(call, targets, iter_conn)


def _passed_connection(call: cst.Call, targets: Sequence[str], iter_conn: bool) -> str | None:
    """A loop target passed to a send as an argument: ``send(ws, msg)``, ``manager.send_to(client)``."""
    arg_names = _name_args(call)
    for var in targets:
        if var not in arg_names or _payload_like(var):
            continue
        if _conn_like(var):
            return var
        if _has_own_connection(call, targets, arg_names):
            return None
        if iter_conn or len(call.args) >= 2:
            return var
    return None


def _name_args(call: cst.Call) -> list[str]:
    return [a.value.value for a in call.args if isinstance(a.value, cst.Name)]


def _has_own_connection(call: cst.Call, targets: Sequence[str], arg_names: Sequence[str]) -> bool:
    """Whether the send already names a connection, so the loop target is only what is sent."""
    recv_name = _last_name(receiver(call))
    if recv_name is not None and recv_name not in ("self", "cls") and _conn_like(recv_name):
        return True  # ws.send_json(x): several things sent over one connection
    return any(_conn_like(n) for n in arg_names if n not in targets)  # send(x, websocket): likewise


def _iter_words_conn(expr: cst.BaseExpression) -> bool:
    names = [n for n in _all_identifiers(expr) if n not in _ITER_NOISE]
    return any(_conn_like(n) for n in names)


def _all_identifiers(expr: cst.CSTNode) -> list[str]:
    finder = _Names()
    visit(expr, finder)
    return sorted(finder.names)


def _single(body: cst.BaseSuite) -> cst.CSTNode | None:
    """The one statement of a loop body (a small statement, or a compound one), else None."""
    if isinstance(body, cst.SimpleStatementSuite):
        return body.body[0] if len(body.body) == 1 else None
    if len(body.body) != 1:
        return None
    stmt = body.body[0]
    if isinstance(stmt, cst.SimpleStatementLine):
        return stmt.body[0] if len(stmt.body) == 1 else None
    return stmt


class _Comments(cst.CSTVisitor):
    def __init__(self, keep: cst.CSTNode | None) -> None:
        super().__init__()
        self.keep = keep
        self.found: list[cst.Comment] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.Comment):
            self.found.append(node)
        return node is not self.keep


def _comments(
    updated: cst.For, keep: cst.CSTNode | None
) -> tuple[list[cst.EmptyLine], cst.TrailingWhitespace | None]:
    """The comments of a loop body that is replaced (``keep`` is carried over with its own).

    The loop header's comment stays at the end of the first new line; the others become
    comment lines above it, in source order.
    """
    body = updated.body
    header = body.header if isinstance(body, cst.IndentedBlock) else body.trailing_whitespace
    trailing = header if header.comment is not None else None
    finder = _Comments(keep)
    visit(body, finder)
    lines = [cst.EmptyLine(comment=c) for c in finder.found if trailing is None or c is not trailing.comment]
    return lines, trailing


def _line(small: cst.BaseSmallStatement, leading: Sequence[cst.EmptyLine] = (), trailing=None) -> cst.SimpleStatementLine:
    kw = {"trailing_whitespace": trailing} if trailing is not None else {}
    return cst.SimpleStatementLine(body=[small], leading_lines=list(leading), **kw)


def _gather(elt: cst.BaseExpression, target: cst.BaseAssignTargetExpression, it: cst.BaseExpression) -> cst.Await:
    gen = cst.GeneratorExp(
        elt=elt.with_changes(lpar=[], rpar=[]) if isinstance(elt, cst.Call) else elt,
        for_in=cst.CompFor(target=target, iter=_paren(it)),
    )
    return cst.Await(
        cst.Call(
            func=cst.Attribute(cst.Name("asyncio"), cst.Name("gather")),
            args=[cst.Arg(gen, star="*")],
        )
    )


_LINE_LENGTH = 88  # ruff's and black's default


class _WrapGather(cst.CSTTransformer):
    """``asyncio.gather(*(...))`` with its argument on a line of its own."""

    def __init__(self, unit: str, comment: cst.TrailingWhitespace) -> None:
        super().__init__()
        self.unit = unit
        self.comment = comment

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        func = updated_node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "gather" and len(updated_node.args) == 1):
            return updated_node
        return updated_node.with_changes(
            whitespace_before_args=cst.ParenthesizedWhitespace(
                first_line=self.comment, indent=True, last_line=cst.SimpleWhitespace(self.unit)
            ),
            args=[
                updated_node.args[0].with_changes(
                    whitespace_after_arg=cst.ParenthesizedWhitespace(indent=True)
                )
            ],
        )


def _fit(line: cst.SimpleStatementLine, indent: int, unit: str) -> cst.SimpleStatementLine:
    """Break a gather line that would be longer than the usual limit."""
    code = cst.Module(body=[]).code_for_node(line.with_changes(leading_lines=[], trailing_whitespace=cst.TrailingWhitespace()))
    if indent + len(code.rstrip("\n")) <= _LINE_LENGTH:
        return line
    # The loop header's comment stays on the first line, after the opening parenthesis.
    wrapped = line.with_changes(trailing_whitespace=cst.TrailingWhitespace())
    return wrapped.visit(_WrapGather(unit, line.trailing_whitespace))  # type: ignore[return-value]


def _fresh(base: str, used: set[str]) -> str:
    if base not in used:
        return base
    i = 1
    while f"{base}_{i}" in used:
        i += 1
    return f"{base}_{i}"


def _ast_loops(function: ast.AsyncFunctionDef) -> Iterator[ast.For | ast.AsyncFor]:
    """``for`` statements whose nearest enclosing function is ``function`` (class bodies entered)."""
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, (ast.For, ast.AsyncFor)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _ast_loop_sends(loop: ast.For | ast.AsyncFor) -> bool:
    """Some awaited send in the body goes to a loop target: ``_connection`` on the ``ast``, with
    ``_has_own_connection`` left out and nested scopes entered (both only widen it)."""
    targets = {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
    if not targets:
        return False
    iter_conn = any(_conn_like(n) for n in _ast_identifiers(loop.iter) if n not in _ITER_NOISE)
    return any(_ast_sends_to(call, targets, iter_conn) for call in _awaited_calls(loop.body))


def _awaited_calls(body: Sequence[ast.stmt]) -> Iterator[ast.Call]:
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Await):
                yield from (c for c in ast.walk(node.value) if isinstance(c, ast.Call))


def _ast_identifiers(expr: ast.AST) -> set[str]:
    """What libcst's ``Name`` nodes of ``expr`` hold: names, attributes, keyword names."""
    out: set[str] = set()
    for node in ast.walk(expr):
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.Attribute):
            out.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg:
            out.add(node.arg)
    return out


def _ast_sends_to(call: ast.Call, targets: set[str], iter_conn: bool) -> bool:
    if not _send_name(last_name(call.func)):
        return False
    if _ast_receiver_root(call) in targets:
        return True
    values = [*call.args, *(k.value for k in call.keywords)]
    arg_names = {v.id for v in values if isinstance(v, ast.Name)}
    widened = iter_conn or len(values) >= 2
    return any(widened or _conn_like(var) for var in targets & arg_names if not _payload_like(var))


def _ast_receiver_root(call: ast.Call) -> str | None:
    expr = call.func.value if isinstance(call.func, ast.Attribute) else None
    while isinstance(expr, (ast.Attribute, ast.Subscript)):
        expr = expr.value
    return expr.id if isinstance(expr, ast.Name) else None


class SequentialBroadcast(Rule):
    """
    ## What it does
    Finds `for` loops in `async def` functions that await a send to each connection of a
    collection in turn: `await ws.send_text(...)` (or `send`, `send_json`, `send_bytes`,
    `send_str`, `send_message`, any `send*` method of the loop variable) and `send*` calls that
    take the loop variable as an argument (`await self.send_personal_message(msg, ws)`,
    `await send_to(ws, msg)`). The loop target may be a tuple (`for user_id, ws in
    active.items()`). A loop sending several items over ONE connection
    (`for item in items: await ws.send_json(item)`) is not a fan-out and is not reported.

    ## Why is this bad?
    Each send waits for the previous client: one slow client (a full TCP buffer, a stalled
    proxy, a mobile link) delays every client after it, and the broadcast takes the *sum* of
    the clients' latencies instead of the slowest one. Sending concurrently changes how errors
    behave, which is why the fix is *unsafe*:

    - the loop stops at the first exception: later connections get nothing, and the exception
      propagates;
    - `asyncio.gather(...)` (without `return_exceptions`) propagates the first exception too,
      but the other sends have all been started and run on to completion (they are not
      cancelled, and their own errors are retrieved and dropped);
    - `asyncio.TaskGroup` (the `use-taskgroup` variant) cancels the sibling sends on the first
      failure and raises an `ExceptionGroup`, so callers that catch the plain exception around
      the broadcast need `except*` instead. `TaskGroup.create_task` needs a coroutine, where
      `gather` accepts any awaitable.

    The loop also iterates the live collection across awaits: if another task connects or
    disconnects meanwhile, a `dict` or `set` raises `RuntimeError: ... changed size during
    iteration` and a `list` silently skips a connection. Both fixed forms build every send
    coroutine (or task) before the first suspension, so the collection is read in one go.
    Counting successes (`if await send(...): count += 1`) gives the same count unless a send
    raises: the loop counted the earlier ones, the gathered form counts none.

    ## Example
    ```python
    async def broadcast(self, message: str) -> None:
        for connection in self.active_connections:
            await connection.send_text(message)
    ```

    ## Use instead
    ```python
    async def broadcast(self, message: str) -> None:
        await asyncio.gather(
            *(connection.send_text(message) for connection in self.active_connections)
        )
    ```
    The fix handles three loop bodies and adds `import asyncio`:

    - a single awaited send: it becomes one `asyncio.gather` over a generator (no fix for
      `async for`: an async iterator cannot be gathered without collecting it first);
    - `if await send(...): count += 1`: `results = await asyncio.gather(...)` then
      `count += sum(1 for r in results if r)`;
    - `try: await send(...) except E as e: handler`: the body moves into an inner
      `async def _send_one(ws)` defined right before the loop's position, gathered over the
      collection; the parameter keeps the loop variable's name, so a handler such as
      `dead.append(ws)` keeps working, and names the handler rebinds are declared `nonlocal`.
      A handler with `break`, `continue` or `return` cannot be carried over: no fix.

    Other bodies are reported without a fix, and so are loops whose variable is still used
    after the loop.

    ## Options
    - `use-taskgroup` (bool, default `false`): with `target-version` 3.11 or later, fix the
      single-send shape with `async with asyncio.TaskGroup() as tg:` and `tg.create_task(...)`
      in the loop instead of `asyncio.gather` (siblings are cancelled on the first failure).
    """

    code = "WS203"
    name = "sequential-broadcast"
    category = "asyncio"
    severity = Severity.WARNING
    fix_safety = FixSafety.UNSAFE
    summary = "broadcast awaits each connection in turn; one slow client delays all the others"
    tokens = ("send",)

    @classmethod
    def wants(cls, text: str, tree: ast.Module | None, options: Mapping[str, Any]) -> bool:
        """A ``for`` whose nearest function is an ``async def`` and whose body calls a send-named
        function mentioning a loop target (as receiver or argument): what ``_SendFinder`` needs."""
        facts = ast_facts(tree)
        if facts is None:
            return cls.matches_text(text)
        if not facts.has_async or not any(_send_name(n) for n in facts.called):
            return False
        return any(_ast_loop_sends(loop) for fn in facts.nodes(ast.AsyncFunctionDef) for loop in _ast_loops(fn))
    options = (
        Option(
            "use-taskgroup",
            bool,
            False,
            "fix the single-send shape with asyncio.TaskGroup (target-version >= 3.11)",
        ),
    )

    VALID = [
        Valid("""
            async def stream(ws, items):
                for item in items:
                    await ws.send_json(item)
        """),
        Valid("""
            async def echo(websocket):
                async for message in websocket:
                    await websocket.send(message)
        """),
        Valid("""
            def broadcast(connections, message):
                for ws in connections:
                    ws.send(message)
        """),
        Valid("""
            import asyncio
            async def broadcast(connections, message):
                coros = []
                for ws in connections:
                    coros.append(ws.send_text(message))
                await asyncio.gather(*coros)
        """),
        Valid("""
            async def replay(self, websocket, history):
                for entry in history:
                    await self.send_personal_message(entry, websocket)
        """),
        Valid("""
            import asyncio
            async def broadcast(connections, message):
                for ws in connections:
                    asyncio.get_running_loop().call_soon(ws.close)
                    def later():
                        return ws.send(message)
        """),
    ]
    INVALID = [
        Invalid(
            """
            class ConnectionManager:
                async def broadcast(self, message: str):
                    for connection in self.active_connections:
                        await connection.send_text(message)
            """,
            """
            import asyncio


            class ConnectionManager:
                async def broadcast(self, message: str):
                    await asyncio.gather(
                        *(connection.send_text(message) for connection in self.active_connections)
                    )
            """,
            lines=(3,),
        ),
        Invalid(
            """
            import asyncio

            async def notify(self, msg):
                for user_id, ws in self.active.items():
                    await self.send_personal_message(msg, ws)
            """,
            """
            import asyncio

            async def notify(self, msg):
                await asyncio.gather(
                    *(self.send_personal_message(msg, ws) for user_id, ws in self.active.items())
                )
            """,
            lines=(4,),
        ),
        Invalid(
            """
            import asyncio

            async def broadcast(clients, data):
                sent = 0
                for client in clients:
                    if await client.send_message(data):
                        sent += 1
                return sent
            """,
            """
            import asyncio

            async def broadcast(clients, data):
                sent = 0
                results = await asyncio.gather(*(client.send_message(data) for client in clients))
                sent += sum(1 for r in results if r)
                return sent
            """,
            lines=(5,),
        ),
        Invalid(
            """
            import asyncio

            async def broadcast(self, message):
                dead = []
                for ws in self.connections:
                    try:
                        await ws.send_text(message)
                    except ConnectionError:
                        dead.append(ws)
                for ws in dead:
                    self.connections.remove(ws)
            """,
            """
            import asyncio

            async def broadcast(self, message):
                dead = []
                async def _send_one(ws):
                    try:
                        await ws.send_text(message)
                    except ConnectionError:
                        dead.append(ws)
                await asyncio.gather(*(_send_one(ws) for ws in self.connections))
                for ws in dead:
                    self.connections.remove(ws)
            """,
            lines=(5,),
        ),
        Invalid(
            """
            import asyncio

            async def broadcast(room, message):
                for ws in room.members:
                    await send_to(ws, message)
            """,
            """
            import asyncio

            async def broadcast(room, message):
                async with asyncio.TaskGroup() as tg:
                    for ws in room.members:
                        tg.create_task(send_to(ws, message))
            """,
            lines=(4,),
            options={"use-taskgroup": True},
            target_version="py311",
        ),
        Invalid(
            """
            async def broadcast(sockets, message):
                async for ws in sockets:
                    await ws.send(message)
                for ws in sockets:
                    if ws.open:
                        await ws.send(message)
                for ws in sockets:
                    try:
                        await ws.send(message)
                    except OSError:
                        break
            """,
            lines=(2, 4, 7),
        ),
    ]

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self._names_cache: dict[int, set[str]] = {}

    def visit_For(self, node: cst.For) -> None:
        if not self.ctx.in_async_function():
            return
        targets = _target_names(node.target)
        if not targets:
            return
        finder = _SendFinder(self, targets, _iter_words_conn(node.iter))
        visit(node.body, finder)
        if not finder.found or finder.shared_reply:
            return
        conn = finder.found[0].conn
        unit = self.ctx.module.default_indent
        self._indent = sum(
            len(b.indent if b.indent is not None else unit)
            for b in self.ctx.ancestors
            if isinstance(b, cst.IndentedBlock)
        )
        fix = None if node.asynchronous is not None else self._fix(node, finder.found)
        msg = f"sequential broadcast: the send to each `{conn}` waits for the previous one; one slow client delays all the others"
        if node.asynchronous is not None:
            msg += " (async for: no automatic fix)"
        self.report(node, msg, fix=fix)

    # -- fixes ---------------------------------------------------------------------------------

    def _function_names(self, func: cst.CSTNode) -> set[str]:
        key = id(func)
        if key not in self._names_cache:
            self._names_cache[key] = set(_all_identifiers(func))
        return self._names_cache[key]

    def _sends_in(self, node: cst.CSTNode, sends: Sequence[_Send]) -> bool:
        ids = {id(s.call) for s in sends}
        found = []

        class _Find(cst.CSTVisitor):
            def visit_Call(self, call: cst.Call) -> None:
                if id(call) in ids:
                    found.append(call)

        visit(node, _Find())
        return bool(found)

    def _fix(self, node: cst.For, sends: Sequence[_Send]) -> Fix | None:
        if node.orelse is not None:
            return None
        func = self.ctx.enclosing_function()
        if func is None:
            return None
        used = self._function_names(func)
        # The loop variable stays bound after a loop; a gathered generator does not bind it.
        later = _ReadAfter(node, _target_names(node.target) or [])
        visit(func, later)
        if later.read:
            return None
        stmt = _single(node.body)
        if stmt is None:
            return None
        if isinstance(stmt, cst.Expr):
            return self._fix_single(node, stmt, sends, used)
        if isinstance(stmt, cst.If):
            return self._fix_count(node, stmt, sends, used)
        if isinstance(stmt, cst.Try):
            return self._fix_try(node, stmt, sends, used, func)
        return None

    def _plain_send(self, value: cst.BaseExpression, sends: Sequence[_Send]) -> cst.Call | None:
        """``await <call>`` where the call holds the send and nothing that cannot go in a genexp."""
        if not isinstance(value, cst.Await) or not isinstance(value.expression, cst.Call):
            return None
        call = value.expression
        if not self._sends_in(call, sends):
            return None
        if _contains(call, (cst.Await, cst.Yield, cst.NamedExpr), skip_scopes=False):
            return None
        return call

    def _fix_single(self, node: cst.For, stmt: cst.Expr, sends: Sequence[_Send], used: set[str]) -> Fix | None:
        indent, unit = self._indent, self.ctx.module.default_indent
        if self._plain_send(stmt.value, sends) is None:
            return None
        if self.opts["use-taskgroup"] and self.ctx.target_version >= (3, 11):
            tg = _fresh("tg", used)
            return Fix(
                FixSafety.UNSAFE,
                "start every send in an asyncio.TaskGroup",
                replacements={node: lambda updated: _in_taskgroup(updated, tg)},
                imports=(("asyncio", None),),
            )

        def gathered(updated: cst.For) -> cst.CSTNode:
            single = _single(updated.body)
            call = single.value.expression  # type: ignore[union-attr]
            lines, trailing = _comments(updated, call)
            line = _line(
                cst.Expr(_gather(call, updated.target, updated.iter)),
                [*updated.leading_lines, *lines],
                trailing,
            )
            return _fit(line, indent, unit)

        return Fix(
            FixSafety.UNSAFE,
            "send to every connection concurrently with asyncio.gather",
            replacements={node: gathered},
            imports=(("asyncio", None),),
        )

    def _fix_count(self, node: cst.For, stmt: cst.If, sends: Sequence[_Send], used: set[str]) -> Fix | None:
        indent, unit = self._indent, self.ctx.module.default_indent
        if stmt.orelse is not None:
            return None
        test, negate = stmt.test, False
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            test, negate = test.expression, True
        if self._plain_send(test.with_changes(lpar=[], rpar=[]) if isinstance(test, cst.Await) else test, sends) is None:
            return None
        inc = _single(stmt.body)
        counter = self._counter(inc)
        if counter is None:
            return None
        results = _fresh("results", used)
        var = "ok" if _root_name(counter) == "r" else "r"

        def counted(updated: cst.For) -> cst.CSTNode:
            if_stmt = _single(updated.body)
            test = if_stmt.test  # type: ignore[union-attr]
            if isinstance(test, cst.UnaryOperation):
                test = test.expression
            call = test.expression  # type: ignore[attr-defined]
            inc_stmt = _single(if_stmt.body)  # type: ignore[union-attr]
            target = inc_stmt.target if isinstance(inc_stmt, cst.AugAssign) else inc_stmt.targets[0].target  # type: ignore[union-attr]
            lines, trailing = _comments(updated, call)
            cond = f"not {var}" if negate else var
            total = cst.parse_expression(f"sum(1 for {var} in {results} if {cond})")
            first = _fit(
                _line(
                    cst.Assign(
                        targets=[cst.AssignTarget(cst.Name(results))],
                        value=_gather(call, updated.target, updated.iter),
                    ),
                    [*updated.leading_lines, *lines],
                    trailing,
                ),
                indent,
                unit,
            )
            second = _line(
                cst.AugAssign(target=target.with_changes(lpar=[], rpar=[]), operator=cst.AddAssign(), value=total)
            )
            return cst.FlattenSentinel([first, second])

        return Fix(
            FixSafety.UNSAFE,
            "send concurrently with asyncio.gather and count the successful results",
            replacements={node: counted},
            imports=(("asyncio", None),),
        )

    @staticmethod
    def _counter(inc: cst.CSTNode | None) -> cst.BaseExpression | None:
        """The counter of ``count += 1`` / ``count = count + 1`` (a name or attribute)."""
        target = _incremented(inc)
        if isinstance(target, cst.Name) or (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name)):
            return target
        return None

    def _fix_try(
        self, node: cst.For, stmt: cst.Try, sends: Sequence[_Send], used: set[str], func: cst.CSTNode
    ) -> Fix | None:
        indent, unit = self._indent, self.ctx.module.default_indent
        if not stmt.handlers or not self._sends_in(stmt.body, sends):
            return None
        params = _flat_names(node.target)
        if params is None or _escapes(stmt):
            return None
        nonlocals = _try_nonlocals(node, stmt, params, func)
        if nonlocals is None:
            return None
        helper = _fresh("_send_one", used)

        def carried(updated: cst.For) -> cst.CSTNode:
            body = updated.body
            if not isinstance(body, cst.IndentedBlock):
                return updated  # not reached: a loop holding a try statement has an indented body
            inner: list[cst.BaseStatement] = []
            if nonlocals:
                inner.append(_line(cst.Nonlocal([cst.NameItem(cst.Name(n)) for n in nonlocals])))
            inner.extend(body.body)
            define = cst.FunctionDef(
                name=cst.Name(helper),
                params=cst.Parameters(params=[cst.Param(cst.Name(p)) for p in params]),
                body=body.with_changes(body=inner),
                asynchronous=cst.Asynchronous(),
                leading_lines=updated.leading_lines,
            )
            elt = cst.Call(func=cst.Name(helper), args=[cst.Arg(cst.Name(p)) for p in params])
            run = _fit(_line(cst.Expr(_gather(elt, updated.target, updated.iter))), indent, unit)
            return cst.FlattenSentinel([define, run])

        return Fix(
            FixSafety.UNSAFE,
            "move the guarded send into an inner coroutine and gather it over the connections",
            replacements={node: carried},
            imports=(("asyncio", None),),
        )


def _in_taskgroup(updated: cst.For, tg: str) -> cst.CSTNode:
    """``async with asyncio.TaskGroup() as tg:`` around the loop, each send started as a task."""

    def swap(small: cst.BaseSmallStatement) -> cst.BaseSmallStatement:
        call = small.value.expression  # type: ignore[attr-defined]
        create = cst.Call(func=cst.Attribute(cst.Name(tg), cst.Name("create_task")), args=[cst.Arg(call)])
        return small.with_changes(value=create)

    body = updated.body
    if isinstance(body, cst.SimpleStatementSuite):
        body = body.with_changes(body=[swap(body.body[0])])
    else:
        line = body.body[0]
        body = body.with_changes(body=[line.with_changes(body=[swap(line.body[0])])])
    inner = updated.with_changes(body=body, leading_lines=[])
    return cst.With(
        items=[
            cst.WithItem(
                cst.Call(func=cst.Attribute(cst.Name("asyncio"), cst.Name("TaskGroup"))),
                asname=cst.AsName(cst.Name(tg)),
            )
        ],
        body=cst.IndentedBlock(body=[inner]),
        asynchronous=cst.Asynchronous(),
        leading_lines=updated.leading_lines,
    )


def _is_one(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Integer) and expr.value == "1"


def _incremented(inc: cst.CSTNode | None) -> cst.BaseExpression | None:
    """What ``x += 1`` or ``x = x + 1`` increments, else None."""
    if isinstance(inc, cst.AugAssign):
        return inc.target if isinstance(inc.operator, cst.AddAssign) and _is_one(inc.value) else None
    if not (isinstance(inc, cst.Assign) and len(inc.targets) == 1):
        return None
    value, target = inc.value, inc.targets[0].target
    if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Add) and _is_one(value.right):
        return target if value.left.deep_equals(target) else None
    return None


def _try_nonlocals(node: cst.For, stmt: cst.Try, params: Sequence[str], func: cst.CSTNode) -> list[str] | None:
    """The names the try statement rebinds that the new function must declare ``nonlocal``.

    A rebound name is local to the new function unless the enclosing function binds it too
    (then ``nonlocal``) or reads it elsewhere (then None: no fix).
    """
    handler_names = {h.name.name.value for h in stmt.handlers if h.name is not None and isinstance(h.name.name, cst.Name)}
    rebound = _bindings(stmt) - set(params) - handler_names
    outside = _Names()
    outer_bound = _bindings(func.params) | _bindings(func.body, skip=node)  # type: ignore[attr-defined]
    visit(func, _SkipVisitor(outside, node))
    nonlocals = []
    for name in sorted(rebound):
        if name in outer_bound:
            nonlocals.append(name)
        elif name in outside.names:
            return None
    return nonlocals


class _SkipVisitor(cst.CSTVisitor):
    """Runs ``inner`` over a tree except one subtree."""

    def __init__(self, inner: cst.CSTVisitor, skip: cst.CSTNode) -> None:
        super().__init__()
        self.inner = inner
        self.skip = skip

    def on_visit(self, node: cst.CSTNode) -> bool:
        if node is self.skip:
            return False
        self.inner.on_visit(node)
        return True
