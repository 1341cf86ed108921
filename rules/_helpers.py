"""Small helpers shared by rules: resolving calls, reading arguments, building replacement code."""

from __future__ import annotations

from collections.abc import Iterator

from wsrefactor.lazy import cst
from wsrefactor.rule import FileContext


def callee(call: cst.Call) -> cst.BaseExpression:
    """The called expression, looking through generic subscripts (``Queue[int]()``)."""
    func = call.func
    return func.value if isinstance(func, cst.Subscript) else func


def call_name(ctx: FileContext, call: cst.Call) -> str | None:
    """Qualified name of what ``call`` calls, via the import table."""
    return ctx.qualname(callee(call))


def keyword(call: cst.Call, name: str) -> cst.Arg | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def positional(call: cst.Call, index: int) -> cst.Arg | None:
    plain = [a for a in call.args if a.keyword is None and not a.star]
    return plain[index] if index < len(plain) else None


def int_value(node: cst.BaseExpression) -> int | None:
    """The value of an integer literal (``1000``, ``-1``, ``1_000``), else None."""
    if isinstance(node, cst.Integer):
        return int(node.value.replace("_", ""), 0)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = int_value(node.expression)
        return None if inner is None else -inner
    return None


def number_value(node: cst.BaseExpression) -> float | None:
    if isinstance(node, cst.Float):
        return float(node.value.replace("_", ""))
    value = int_value(node)
    return None if value is None else float(value)


def is_awaited(ctx: FileContext) -> bool:
    """Whether the node being visited is the operand of ``await``."""
    parent = ctx.parent()
    return isinstance(parent, cst.Await)


def expr(code: str) -> cst.BaseExpression:
    return cst.parse_expression(code)


def source_of(ctx: FileContext, node: cst.CSTNode) -> str:
    return ctx.module.code_for_node(node)


def add_arg(call: cst.Call, new: cst.Arg) -> cst.Call:
    """Append ``new`` as the last argument, keeping the call's layout.

    The whitespace after the old last argument (a newline before ``)`` included) moves after
    the new one, and in a call with one argument per line the new argument gets its own line,
    with the same indentation and trailing-comma style.
    """
    args = list(call.args)
    if not args:
        before = call.whitespace_before_args
        if isinstance(before, cst.SimpleWhitespace):
            call = call.with_changes(whitespace_before_args=cst.SimpleWhitespace(""))
        return call.with_changes(args=[new])
    last = args[-1]
    before = call.whitespace_before_args
    indent = before.last_line if isinstance(before, cst.ParenthesizedWhitespace) else None
    comma = last.comma
    own_comma = comma if isinstance(comma, cst.Comma) else cst.Comma()
    trailing = own_comma.whitespace_after
    if indent is not None and isinstance(trailing, cst.ParenthesizedWhitespace):
        # f(\n    a,\n) -> f(\n    a,\n    new,\n): a comment after "a," stays on a's line.
        separator = trailing.with_changes(empty_lines=[], indent=True, last_line=indent)
        args[-1] = last.with_changes(comma=own_comma.with_changes(whitespace_after=separator))
        closing = trailing.with_changes(first_line=cst.TrailingWhitespace())
        new = new.with_changes(comma=cst.Comma(whitespace_after=closing))
    elif indent is not None and isinstance(last.whitespace_after_arg, cst.ParenthesizedWhitespace):
        # f(\n    a\n) -> f(\n    a,\n    new\n)
        tail = last.whitespace_after_arg
        separator = tail.with_changes(empty_lines=[], indent=True, last_line=indent)
        args[-1] = last.with_changes(
            comma=cst.Comma(whitespace_after=separator), whitespace_after_arg=cst.SimpleWhitespace("")
        )
        closing = tail.with_changes(first_line=cst.TrailingWhitespace())
        new = new.with_changes(whitespace_after_arg=closing)
    else:
        # f(a) -> f(a, new); f(a, ) -> f(a, new, ); f(a\n) -> f(a, new\n)
        if isinstance(comma, cst.Comma):
            new = new.with_changes(comma=comma)
        new = new.with_changes(whitespace_after_arg=last.whitespace_after_arg)
        args[-1] = last.with_changes(
            comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
            whitespace_after_arg=cst.SimpleWhitespace(""),
        )
    return call.with_changes(args=[*args, new])


def module_level_statements(module: cst.Module) -> Iterator[cst.BaseStatement]:
    """Statements that run at import time: the module's own, and those inside module-level
    ``if``/``else``, ``try`` (body, handlers, ``else``, ``finally``) and ``with`` blocks, where
    apps, routes and helpers are often defined conditionally (``if __name__ ...``, ``try: import``)."""
    pending: list[cst.BaseStatement] = list(module.body)
    while pending:
        stmt = pending.pop(0)
        yield stmt
        pending[:0] = list(_nested_blocks(stmt))


def _nested_blocks(stmt: cst.BaseStatement) -> Iterator[cst.BaseStatement]:
    blocks: list[cst.BaseSuite] = []
    if isinstance(stmt, cst.If):
        blocks.append(stmt.body)
        orelse = stmt.orelse
        while isinstance(orelse, cst.If):
            blocks.append(orelse.body)
            orelse = orelse.orelse
        if isinstance(orelse, cst.Else):
            blocks.append(orelse.body)
    elif isinstance(stmt, (cst.Try, cst.TryStar)):
        blocks.extend(_try_blocks(stmt))
    elif isinstance(stmt, cst.With):
        blocks.append(stmt.body)
    for block in blocks:
        if isinstance(block, cst.IndentedBlock):
            yield from block.body


def _try_blocks(stmt: cst.Try | cst.TryStar) -> list[cst.BaseSuite]:
    """A ``try``'s suites in source order: body, handlers, ``else``, ``finally``."""
    blocks = [stmt.body, *(h.body for h in stmt.handlers)]
    blocks.extend(b.body for b in (stmt.orelse, stmt.finalbody) if b is not None)
    return blocks
