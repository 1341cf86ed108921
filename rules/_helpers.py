"""Small helpers shared by rules: resolving calls, reading arguments, building replacement code."""

from __future__ import annotations

import libcst as cst

from wsrefactor.rule import FileContext


def callee(call: cst.Call) -> cst.BaseExpression:
    """The called expression, looking through generic subscripts (``Queue[int]()``)."""
    func = call.func
    return func.value if isinstance(func, cst.Subscript) else func


def call_name(ctx: FileContext, call: cst.Call) -> str | None:
    """Qualified name of what ``call`` calls, via the import table."""
    return ctx.qualname(callee(call))


def method_name(call: cst.Call) -> str | None:
    func = call.func
    return func.attr.value if isinstance(func, cst.Attribute) else None


def receiver(call: cst.Call) -> cst.BaseExpression | None:
    func = call.func
    return func.value if isinstance(func, cst.Attribute) else None


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


def add_arg(call: cst.Call, arg: cst.Arg) -> cst.Call:
    """Append an argument; a trailing comma moves to the new last argument."""
    args = list(call.args)
    if args:
        last = args[-1]
        if last.comma is not cst.MaybeSentinel.DEFAULT:
            arg = arg.with_changes(comma=last.comma)
        args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    return call.with_changes(args=[*args, arg])
