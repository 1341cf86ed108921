"""WS205 dangling-task: a task whose only reference is dropped can be garbage-collected mid-flight."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from typing import Any

import libcst as cst

from wsrefactor.model import FixSafety, Severity
from wsrefactor.rule import Fix, Invalid, Option, Rule, Valid
from wsrefactor.rules._prefilter import index
from wsrefactor.rules._ast_twins import may_call
from wsrefactor.rules._helpers import call_name, method_name, receiver

_SPAWNERS = {"asyncio.create_task", "asyncio.ensure_future", "asyncio.tasks.create_task", "asyncio.tasks.ensure_future"}
_LOOP_GETTERS = {"asyncio.get_event_loop", "asyncio.get_running_loop", "asyncio.new_event_loop"}

KEEP_SET = "_background_tasks: set[asyncio.Future] = set()"
KEEP_FUNC = '''def _keep_task(task):
    """Hold a reference until the task is done, so it cannot be garbage-collected mid-flight."""
    _background_tasks.add(task)
    task.add_done_callback(_background_tasks.discard)
    return task'''


def _discarded_calls(tree: ast.Module) -> Iterator[ast.Call]:
    """Calls whose result is thrown away, as ``visit_Expr``/``visit_Assign`` see them."""
    facts = index(tree)
    for stmt in facts.nodes(ast.Expr):
        if isinstance(stmt.value, ast.Call):
            yield stmt.value
    for assign in facts.nodes(ast.Assign):
        target = assign.targets[0]
        if len(assign.targets) == 1 and isinstance(target, ast.Name) and target.id == "_":
            if isinstance(assign.value, ast.Call):
                yield assign.value


def _may_spawn(tree: ast.Module, call: ast.Call) -> bool:
    """The ``ast`` twin of ``DanglingTask._spawns`` (qualified names may only over-match)."""
    if may_call(tree, call, _SPAWNERS):
        return True
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr != "create_task":
        return False
    recv = func.value
    if isinstance(recv, ast.Call):
        return may_call(tree, recv, _LOOP_GETTERS)
    last = recv.attr if isinstance(recv, ast.Attribute) else recv.id if isinstance(recv, ast.Name) else ""
    return last.lower().endswith("loop")


class DanglingTask(Rule):
    """
    ## What it does
    Finds `asyncio.create_task(...)`, `asyncio.ensure_future(...)` and `loop.create_task(...)`
    calls whose result is thrown away (an expression statement, or assigned to `_`).

    ## Why is this bad?
    The event loop keeps only a weak reference to tasks. A task nobody references can be
    garbage-collected before it finishes, silently dropping work such as a broadcast or a
    session cleanup, and its exception is never retrieved. The asyncio documentation says to
    keep a reference. `TaskGroup.create_task` is not reported: the group holds its tasks.

    ## Example
    ```python
    async def on_message(ws, msg):
        asyncio.create_task(broadcast(msg))
    ```

    ## Use instead
    ```python
    _background_tasks: set[asyncio.Future] = set()

    def _keep_task(task):
        _background_tasks.add(task)
        task.add_done_callback(_background_tasks.discard)
        return task

    async def on_message(ws, msg):
        _keep_task(asyncio.create_task(broadcast(msg)))
    ```
    The fix is *unsafe*: tasks that used to vanish now run to completion, and the module gains
    a `_background_tasks` set and a `_keep_task` helper after its imports.

    A project that has its own task helper names it with `task-helper`: every
    `asyncio.create_task(coro)` / `asyncio.ensure_future(coro)` becomes a call of that helper
    (imported where it is used), and no module gets a copy of `_keep_task`. The helper must take
    the coroutine and keep a reference to the task it starts. Calls with more than the coroutine
    (`name=`, `context=`) and `loop.create_task(...)` (the loop may not be the running one) keep the
    `_keep_task` wrapper.

    ## Options
    - `task-helper` (str, default `""`): the dotted name of the project's task helper, e.g.
      `"chat.tasks.spawn"` (`[tool.wsrefactor.WS205] task-helper = "chat.tasks.spawn"`).
    """

    code = "WS205"
    name = "dangling-task"
    category = "asyncio"
    severity = Severity.WARNING
    fix_safety = FixSafety.UNSAFE
    summary = "task result discarded; the task may be garbage-collected before it finishes"
    tokens = ("create_task", "ensure_future")
    options = (
        Option("task-helper", str, "", "Dotted name of the project's own task helper used by the fix."),
    )

    @classmethod
    def wants(cls, text: str, tree: ast.Module | None, options: Mapping[str, Any]) -> bool:
        """A discarded call (expression statement, ``_ = ...``) that may spawn: the only places
        ``_check`` reports. The text check comes first: every spawner is named in the source."""
        if not cls.matches_text(text):
            return False
        return tree is None or any(_may_spawn(tree, call) for call in _discarded_calls(tree))

    VALID = [
        Valid("""
            import asyncio
            async def main():
                task = asyncio.create_task(work())
                await task
        """),
        Valid("""
            import asyncio
            async def main():
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(work())
        """),
        Valid("""
            import asyncio
            async def main():
                await asyncio.create_task(work())
                tasks.append(asyncio.ensure_future(work()))
        """),
        Valid("""
            def create_task(x):
                return x
            create_task(1)
        """),
    ]
    INVALID = [
        Invalid(
            """
            import asyncio

            async def on_message(ws, msg):
                asyncio.create_task(broadcast(msg))
            """,
            """
            import asyncio

            _background_tasks: set[asyncio.Future] = set()


            def _keep_task(task):
                \"\"\"Hold a reference until the task is done, so it cannot be garbage-collected mid-flight.\"\"\"
                _background_tasks.add(task)
                task.add_done_callback(_background_tasks.discard)
                return task


            async def on_message(ws, msg):
                _keep_task(asyncio.create_task(broadcast(msg)))
            """,
            lines=(4,),
        ),
        # The project's own helper, configured: no copy of _keep_task.
        Invalid(
            """
            import asyncio

            from chat.models import Room

            async def on_message(ws, msg):
                asyncio.create_task(Room.broadcast(msg))
            """,
            """
            from chat.models import Room
            from chat.tasks import spawn

            async def on_message(ws, msg):
                spawn(Room.broadcast(msg))
            """,
            lines=(6,),
            options={"task-helper": "chat.tasks.spawn"},
        ),
        # The helper's short name already means something else here: called through its module.
        Invalid(
            """
            import asyncio

            def spawn(cmd):
                return cmd

            async def on_message(ws, msg):
                asyncio.create_task(ws.send_text(msg))
            """,
            """
            import chat.tasks

            def spawn(cmd):
                return cmd

            async def on_message(ws, msg):
                chat.tasks.spawn(ws.send_text(msg))
            """,
            lines=(7,),
            options={"task-helper": "chat.tasks.spawn"},
        ),
        Invalid(
            """
            from asyncio import ensure_future as spawn, get_running_loop

            async def start(coro):
                spawn(coro)
                loop = get_running_loop()
                loop.create_task(coro)
                _ = get_running_loop().create_task(coro)
            """,
            lines=(4, 6, 7),
        ),
    ]

    def visit_Expr(self, node: cst.Expr) -> None:
        self._check(node.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name) and node.targets[0].target.value == "_":
            self._check(node.value)

    def _spawns(self, call: cst.Call) -> bool:
        name = call_name(self.ctx, call)
        if name in _SPAWNERS:
            return True
        if method_name(call) != "create_task":
            return False
        recv = receiver(call)
        if isinstance(recv, cst.Call):
            return call_name(self.ctx, recv) in _LOOP_GETTERS
        last = recv.attr.value if isinstance(recv, cst.Attribute) else getattr(recv, "value", "")
        return isinstance(last, str) and last.lower().endswith("loop")

    def _check(self, value: cst.BaseExpression) -> None:
        if not isinstance(value, cst.Call) or not self._spawns(value):
            return
        self.report(value, fix=self._helper_fix(value) or self._keep_fix(value))

    def _keep_fix(self, value: cst.Call) -> Fix:
        return Fix(
            FixSafety.UNSAFE,
            "keep a reference to the task until it is done",
            replacements={value: lambda updated: cst.Call(func=cst.Name("_keep_task"), args=[cst.Arg(updated)])},
            imports=(("asyncio", None),),
            module_statements=(KEEP_SET, KEEP_FUNC),
        )

    def _just_a_coroutine(self, value: cst.Call) -> bool:
        """``asyncio.create_task(coro)`` / ``ensure_future(coro)``: nothing a helper could lose."""
        if call_name(self.ctx, value) not in _SPAWNERS or len(value.args) != 1:
            return False
        return value.args[0].keyword is None and not value.args[0].star

    def _helper_fix(self, value: cst.Call) -> Fix | None:
        """``helper(coro)`` with the configured project helper, when the call is just the coroutine."""
        helper = str(self.opts.get("task-helper") or "").strip()
        module, _, name = helper.rpartition(".")
        if not (module and name.isidentifier()) or not self._just_a_coroutine(value):
            return None
        bound = self.ctx.imports.aliases.get(name)
        if bound == helper or (bound is None and name not in self.ctx.imports.module_bindings):
            func: cst.BaseExpression = cst.Name(name)
            imports: tuple[tuple[str, str | None], ...] = ((module, name),)
        else:  # the short name means something else here: call it through its module
            func = cst.parse_expression(helper)
            imports = ((module, None),)
        return Fix(
            FixSafety.UNSAFE,
            f"start it with the project's task helper {helper}()",
            replacements={value: lambda updated: cst.Call(func=func, args=[updated.args[0]])},
            imports=imports,
        )
