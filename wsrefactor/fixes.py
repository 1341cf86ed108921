"""Applying CST fixes to a module, and expressing the result as text edits or a diff.

Fixes are applied by node identity in one transformer pass. Two fixes whose anchors overlap in
the source are not applied together: the later one is found again on the re-parse of the next
pass and applied then, so overlapping fixes resolve by re-running until stable.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from wsrefactor.lazy import cst
from wsrefactor.model import Edit
from wsrefactor.rule import Fix
from wsrefactor.walk import Replacement, replace_nodes

if TYPE_CHECKING:
    from libcst.metadata import CodeRange


def _overlaps(a: CodeRange, b: CodeRange) -> bool:
    return (a.start.line, a.start.column) < (b.end.line, b.end.column) and (
        b.start.line,
        b.start.column,
    ) < (a.end.line, a.end.column)


def choose_compatible(
    fixes: Sequence[Fix],
    position: Callable[[cst.CSTNode], CodeRange],
    build: Callable[[Fix], bool] | None = None,
) -> list[Fix]:
    """The fixes that can be applied together in one pass (first come, first served).

    With ``build`` (the engine's ``materialize``), lazy fixes are built here, in order: one
    whose declared ``anchors`` overlap a fix already chosen is not built at all (it could not be
    applied in this pass; the next pass finds it again), and one that ``build`` says has nothing
    to apply is skipped.
    """
    taken: list[CodeRange] = []
    chosen = []
    for fix in fixes:
        if build is not None:
            if fix.build is not None and fix.anchors and _overlaps_any(_spans(fix, position), taken):
                continue
            if not build(fix):
                continue
        spans = _spans(fix, position)
        if _overlaps_any(spans, taken):
            continue
        taken.extend(spans)
        chosen.append(fix)
    return chosen


def _spans(fix: Fix, position: Callable[[cst.CSTNode], CodeRange]) -> list[CodeRange]:
    return [position(n) for n in (fix.anchors or tuple(fix.replacements))]


def _overlaps_any(spans: Sequence[CodeRange], taken: Sequence[CodeRange]) -> bool:
    return any(_overlaps(s, t) for s in spans for t in taken)


def _is_docstring(stmt: cst.BaseStatement) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _is_import_line(stmt: cst.BaseStatement) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
    )


def _import_index(body: Sequence[cst.BaseStatement]) -> int:
    """Index after the module docstring, ``__future__`` imports and the leading import block."""
    index = 1 if body and _is_docstring(body[0]) else 0
    while index < len(body) and _is_import_line(body[index]):
        index += 1
    return index


def _blank(n: int) -> list[cst.EmptyLine]:
    return [cst.EmptyLine() for _ in range(n)]


def _compound(stmt: cst.CSTNode) -> bool:
    return isinstance(stmt, cst.BaseCompoundStatement)


def _spaced(statements: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
    """PEP 8 spacing: one blank line after the imports, two around definitions."""
    out: list[cst.BaseStatement] = []
    for stmt in statements:
        gap = 2 if _compound(stmt) or (out and _compound(out[-1])) else (0 if out else 1)
        out.append(stmt.with_changes(leading_lines=_blank(gap)))
    return out


def _insert_after_imports(
    module: cst.Module, new: list[cst.BaseStatement], index: int, want_after: int
) -> cst.Module:
    """Insert ``new`` at ``index`` and give the statement after it at least ``want_after`` blank lines."""
    body = list(module.body)
    if index < len(body):
        nxt = body[index]
        have = sum(1 for ln in nxt.leading_lines if ln.comment is None)
        if have < want_after:
            body[index] = nxt.with_changes(leading_lines=_blank(want_after - have) + list(nxt.leading_lines))
    return module.with_changes(body=[*body[:index], *new, *body[index:]], has_trailing_newline=True)


def add_module_statements(module: cst.Module, statements: Iterable[str], path: str | None = None) -> cst.Module:
    """Insert statements once each, right after the leading imports, spaced as PEP 8 asks (or
    as the project's isort ``lines-after-imports`` says, found from ``path``)."""
    # Compare statements as this module would print them (its newline and indentation), so a
    # CRLF or tab-indented file recognises the statement a previous fix added.
    existing = {module.code_for_node(s).strip() for s in module.body}
    fresh: list[cst.BaseStatement] = []
    for text in dict.fromkeys(statements):
        stmt = cst.parse_statement(text, config=module.config_for_parsing)
        key = module.code_for_node(stmt).strip()
        if key not in existing:
            existing.add(key)
            fresh.append(stmt)
    if not fresh:
        return module
    new = _spaced(fresh)
    index = _import_index(module.body)
    if index == 0:
        new[0] = new[0].with_changes(leading_lines=[])
    elif _is_import_line(module.body[index - 1]):
        new[0] = new[0].with_changes(leading_lines=_blank(_lines_after_imports(path, new[0])))
    nxt_compound = index < len(module.body) and _compound(module.body[index])
    return _insert_after_imports(module, new, index, 2 if nxt_compound or _compound(new[-1]) else 1)


def _lines_after_imports(path: str | None, first: cst.BaseStatement) -> int:
    """Blank lines between the imports and what follows: the project's ``lines-after-imports``,
    else ruff's automatic choice (two before a definition, one otherwise)."""
    from wsrefactor.imports import style_for

    configured = style_for(path).lines_after_imports
    return configured if configured >= 0 else (2 if _compound(first) else 1)


def _missing_imports(
    module: cst.Module, imports: Iterable[tuple[str, str | None]]
) -> list[tuple[str, str | None]]:
    """The ``(module, name)`` imports not bound yet, each once."""
    from wsrefactor.names import ImportTable

    bound = set(ImportTable(module).aliases.items())
    out: list[tuple[str, str | None]] = []
    for mod, name in dict.fromkeys(imports):
        head = mod.split(".")[0]
        key = (head, head) if name is None else (name, f"{mod}.{name}")
        if key in bound:
            continue
        bound.add(key)
        out.append((mod, name))
    return out


def add_imports(
    module: cst.Module, imports: Iterable[tuple[str, str | None]], path: str | None = None
) -> cst.Module:
    """Add ``import mod`` / ``from mod import name`` unless already bound, each into its isort
    section of the leading import block (``wsrefactor.imports``; the project's isort/ruff settings
    found from ``path``).

    A statement-level check (no metadata, no copy of the module): cheap enough to run per finding.
    """
    from wsrefactor.imports import add_import_statements

    wanted = _missing_imports(module, imports)
    if not wanted:
        return module
    return add_import_statements(module, wanted, path)


def apply_fixes(module: cst.Module, fixes: Sequence[Fix], path: str | None = None) -> cst.Module:
    """Apply the fixes' replacements, module statements and imports; then drop the module-level
    imports the replaced code used and nothing uses any more (``import time`` after the
    ``time.sleep`` swap)."""
    from wsrefactor.imports import remove_unused

    replacements: dict[cst.CSTNode, Replacement] = {}
    for fix in fixes:
        replacements.update(fix.replacements)
    candidates = _names_replaced(module, replacements)
    if replacements:
        module = cst.ensure_type(replace_nodes(module, replacements), cst.Module)
    statements = [s for fix in fixes for s in fix.module_statements]
    if statements:
        module = add_module_statements(module, statements, path)
    imports = [i for fix in fixes for i in fix.imports]
    if imports:
        module = add_imports(module, imports, path)
    if candidates:
        module = remove_unused(module, candidates)
    return module


def _names_replaced(module: cst.Module, replacements: Mapping[cst.CSTNode, Replacement]) -> set[str]:
    """Module-level import names the replaced code reads: the ones a fix may leave unused."""
    from wsrefactor.imports import module_import_names, names_in

    bound = module_import_names(module) if replacements else set()
    return bound & names_in(replacements) if bound else set()


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def split_lines(text: str) -> list[str]:
    """Lines with their endings, breaking only on CR, LF and CRLF (as Python's tokenizer and
    every report consumer do; ``str.splitlines`` also breaks on form feeds and friends)."""
    return _LINE.findall(text)


def text_edits(old: str, new: str) -> tuple[Edit, ...]:
    """Minimal line-hunk edits turning ``old`` into ``new`` (1-based lines, column 1)."""
    a = split_lines(old)
    b = split_lines(new)
    edits = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        edits.append(Edit(i1 + 1, 1, i2 + 1, 1, "".join(b[j1:j2])))
    return tuple(edits)


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Apply edits computed against ``text`` (1-based line/column, each replacing ``[start, end)``).

    Lines are numbered as :func:`text_edits` numbers them (:func:`split_lines`: only CR, LF and
    CRLF end a line, so a form feed stays inside its line); a position one line past the end is
    the end of the text. Overlapping edits or positions outside the text raise ``ValueError``.
    """
    lines = split_lines(text)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def offset(line: int, column: int) -> int:
        if line < 1 or column < 1 or line > len(lines) + 1 or (line == len(lines) + 1 and column != 1):
            raise ValueError(f"edit position {line}:{column} is outside the text")
        if line <= len(lines) and column - 1 > len(lines[line - 1]):
            raise ValueError(f"edit position {line}:{column} is outside its line")
        return offsets[line - 1] + column - 1

    spans = sorted((offset(e.start_line, e.start_column), offset(e.end_line, e.end_column), e.content) for e in edits)
    out: list[str] = []
    pos = 0
    for start, end, content in spans:
        if start < pos or end < start:
            raise ValueError("overlapping or reversed edits")
        out.append(text[pos:start])
        out.append(content)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def unified_diff(old: str, new: str, path: str) -> str:
    lines = difflib.unified_diff(
        split_lines(old),
        split_lines(new),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
