"""Adding and removing imports the way a careful person (and isort / ruff's ``I001``) would.

A fix that needs ``import asyncio`` gets it in the standard-library section of the leading import
block, in sorted position; a ``from mod import name`` joins an existing ``from mod import ...``
line unless the project forces single-line imports. A module-level import that a fix left unused
(``time.sleep`` rewritten to ``asyncio.sleep``) is removed. The project's own isort settings are
honoured: ``[tool.ruff.lint.isort]`` / ``[tool.ruff.isort]`` / ``[lint.isort]`` in ``ruff.toml``,
``[tool.isort]`` or ``.isort.cfg`` / ``setup.cfg`` ``[isort]`` — the nearest configuration above
the fixed file wins, as ruff and isort do.
"""

from __future__ import annotations

import ast
import configparser
import functools
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard, Union

from wsrefactor.lazy import cst
from wsrefactor.walk import children, code_of, parse_ast

try:  # pragma: no cover - depends on the interpreter
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]

FUTURE, STDLIB, THIRD_PARTY, FIRST_PARTY, LOCAL = range(5)
# What ``Module.body`` holds (libcst's ``BaseStatement`` does not declare ``leading_lines``).
Statement = Union["cst.SimpleStatementLine", "cst.BaseCompoundStatement"]
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"__future__"}


@dataclass(frozen=True)
class ImportStyle:
    """The subset of isort's settings that decides where a new import goes."""

    known_first_party: frozenset[str] = frozenset()
    known_third_party: frozenset[str] = frozenset()
    known_local_folder: frozenset[str] = frozenset()
    force_single_line: bool = False
    from_first: bool = False
    force_sort_within_sections: bool = False
    order_by_type: bool = True
    case_sensitive: bool = False
    line_length: int = 88
    no_sections: bool = False  # every import in one section (``__future__`` still first)
    lines_after_imports: int = -1  # -1: automatic (ruff: 2 before a definition, else 1)
    # Directories whose top-level modules and packages are first party (ruff's ``src``).
    src: tuple[str, ...] = field(default_factory=tuple)


def _as_set(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value) if v]
    return frozenset(str(v) for v in value or ())


def _truthy(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


def _style_from(
    settings: Mapping[str, Any], root: str, src: Sequence[str] = (".", "src"), line_length: Any = None
) -> ImportStyle:
    def get(name: str, default: Any = None) -> Any:
        for key in (name, name.replace("-", "_")):
            if key in settings:
                return settings[key]
        return default

    return ImportStyle(
        known_first_party=_as_set(get("known-first-party")),
        known_third_party=_as_set(get("known-third-party")),
        known_local_folder=_as_set(get("known-local-folder")),
        force_single_line=_truthy(get("force-single-line", False)),
        from_first=_truthy(get("from-first", False)),
        force_sort_within_sections=_truthy(get("force-sort-within-sections", False)),
        order_by_type=_truthy(get("order-by-type", True)),
        case_sensitive=_truthy(get("case-sensitive", False)),
        line_length=_int(line_length if line_length is not None else get("line-length"), 88),
        no_sections=_truthy(get("no-sections", False)),
        lines_after_imports=_int(get("lines-after-imports"), -1),
        src=tuple(os.path.normpath(os.path.join(root, s)) for s in src),
    )


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _isort_length(settings: Mapping[str, Any]) -> int:
    """isort's own default is 79 columns (88 with the black profile)."""
    explicit = settings.get("line_length", settings.get("line-length"))
    return _int(explicit, 88 if str(settings.get("profile", "")) == "black" else 79)


def _read_toml(path: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None


def _dig(data: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping) or key not in data:
            return None
        data = data[key]
    return data


def _ruff_style(ruff: Mapping[str, Any], directory: str) -> ImportStyle:
    """From a ruff configuration table (``ruff.toml`` or ``[tool.ruff]``)."""
    isort = _dig(ruff, "lint", "isort") or _dig(ruff, "isort") or {}
    return _style_from(isort, directory, ruff.get("src") or (".", "src"), ruff.get("line-length"))


def _pyproject_style(data: Mapping[str, Any], directory: str) -> ImportStyle | None:
    ruff = _dig(data, "tool", "ruff")
    if isinstance(ruff, Mapping):
        return _ruff_style(ruff, directory)
    isort = _dig(data, "tool", "isort")
    if isinstance(isort, Mapping):
        return _style_from(isort, directory, line_length=_isort_length(isort))
    return None


def _cfg_style(cfg_path: str, directory: str) -> ImportStyle | None:
    """From an ini-style file's ``[isort]`` (or ``[tool:isort]``, ``[settings]``) section."""
    parser = configparser.ConfigParser()
    try:
        parser.read(cfg_path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None
    for section in ("isort", "tool:isort", "settings"):
        if parser.has_section(section):
            settings = dict(parser.items(section))
            return _style_from(settings, directory, line_length=_isort_length(settings))
    return None


def _style_in(directory: str) -> ImportStyle | None:
    """The style configured in ``directory``, or None when no configuration file is there."""
    for name in (".ruff.toml", "ruff.toml"):
        data = _read_toml(os.path.join(directory, name))
        if data is not None:
            return _ruff_style(data, directory)
    pyproject = _read_toml(os.path.join(directory, "pyproject.toml"))
    style = _pyproject_style(pyproject, directory) if pyproject is not None else None
    for name in (".isort.cfg", "setup.cfg", "tox.ini"):
        cfg_path = os.path.join(directory, name)
        if style is None and os.path.isfile(cfg_path):
            style = _cfg_style(cfg_path, directory)
    if style is None and pyproject is not None:  # a pyproject without isort settings marks the root
        style = _style_from({}, directory)
    return style


@functools.lru_cache(maxsize=256)
def _style_for_dir(directory: str) -> ImportStyle:
    current = directory
    while True:
        style = _style_in(current)
        if style is not None:
            return style
        parent = os.path.dirname(current)
        if parent == current:
            return _style_from({}, directory)
        current = parent


def style_for(path: str | None) -> ImportStyle:
    """The import style that applies to the file at ``path`` (defaults when unknown)."""
    if not path:
        return ImportStyle()
    return _style_for_dir(os.path.dirname(os.path.abspath(path)))


def _own_package(path: str | None) -> str | None:
    """The top-level package the file belongs to (ruff and isort call it first party)."""
    if not path:
        return None
    directory = os.path.dirname(os.path.abspath(path))
    top = None
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        top = os.path.basename(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return top


def _matches(module: str, known: frozenset[str]) -> bool:
    return any(module == k or module.startswith(k + ".") for k in known)


def _known_section(module: str, style: ImportStyle) -> int | None:
    """The section the project's ``known-*`` settings give ``module``, if any."""
    for known, section in (
        (style.known_local_folder, LOCAL),
        (style.known_first_party, FIRST_PARTY),
        (style.known_third_party, THIRD_PARTY),
    ):
        if _matches(module, known):
            return section
    return None


def _is_first_party(top: str, style: ImportStyle, path: str | None) -> bool:
    """The file's own package, or a module or package in one of the source roots."""
    if top and top == _own_package(path):
        return True
    return any(
        os.path.isdir(os.path.join(src, top)) or os.path.isfile(os.path.join(src, top + ".py")) for src in style.src
    )


def section_of(module: str, level: int, style: ImportStyle, path: str | None = None) -> int:
    """isort's section of an import: future, stdlib, third party, first party or local."""
    if level:
        return THIRD_PARTY if style.no_sections else LOCAL
    top = module.split(".")[0]
    if top == "__future__":
        return FUTURE
    if style.no_sections:
        return THIRD_PARTY
    known = _known_section(module, style)
    if known is not None:
        return known
    if top in _STDLIB:
        return STDLIB
    return FIRST_PARTY if _is_first_party(top, style, path) else THIRD_PARTY


# --- reading import statements ---------------------------------------------------------------


def _dotted(node: cst.BaseExpression | None) -> str:
    if node is None:
        return ""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def is_import_line(stmt: object) -> TypeGuard[cst.SimpleStatementLine]:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], (cst.Import, cst.ImportFrom))
    )


def _statement_key(stmt: cst.SimpleStatementLine) -> tuple[str, int, bool]:
    """(module, relative level, is a from-import) of a one-import line."""
    small = stmt.body[0]
    if isinstance(small, cst.ImportFrom):
        return _dotted(small.module), len(small.relative), True
    if isinstance(small, cst.Import):
        return _dotted(small.names[0].name), 0, False
    raise ValueError("not a one-import line")


def _module_key(module: str, level: int, style: ImportStyle) -> tuple[Any, ...]:
    name = module if style.case_sensitive else module.lower()
    # ruff's default relative-imports-order: furthest first (``..x`` before ``.x``).
    return (-level, name, module)


def _sort_key(module: str, level: int, is_from: bool, style: ImportStyle) -> tuple[Any, ...]:
    if style.force_sort_within_sections:
        return (*_module_key(module, level, style), is_from)
    kind = (0 if is_from else 1) if style.from_first else (1 if is_from else 0)
    return (kind, *_module_key(module, level, style))


def _member_key(name: str, style: ImportStyle) -> tuple[Any, ...]:
    kind = 0
    if style.order_by_type:
        if name.isupper() and len(name) > 1:
            kind = 0
        elif name[:1].isupper():
            kind = 1
        else:
            kind = 2
    return (kind, name if style.case_sensitive else name.lower(), name)


# --- adding -----------------------------------------------------------------------------------


def _is_docstring(stmt: cst.BaseStatement) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _imports_only(stmt: cst.BaseStatement) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body)


def leading_block(body: Sequence[cst.BaseStatement]) -> tuple[int, int]:
    """``[start, end)`` of the leading import block (after the module docstring)."""
    start = 1 if body and _is_docstring(body[0]) else 0
    end = start
    while end < len(body) and _imports_only(body[end]):
        end += 1
    return start, end


def _blank(n: int) -> list[cst.EmptyLine]:
    return [cst.EmptyLine() for _ in range(n)]


def _merged_aliases(
    aliases: Sequence[cst.ImportAlias], name: str, style: ImportStyle
) -> list[cst.ImportAlias]:
    """``aliases`` with ``name`` in sorted position, commas as the line had them."""
    keys = [_member_key(_dotted(a.name), style) for a in aliases]
    index = next((i for i, k in enumerate(keys) if k > _member_key(name, style)), len(aliases))
    inner = [a.comma for a in aliases[:-1] if isinstance(a.comma, cst.Comma)]
    comma = inner[0] if inner else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    merged = [*aliases[:index], cst.ImportAlias(name=cst.Name(name)), *aliases[index:]]
    out = [a.with_changes(comma=comma) for a in merged[:-1]]
    return [*out, merged[-1].with_changes(comma=aliases[-1].comma)]


def _parse_line(module: cst.Module, text: str) -> cst.SimpleStatementLine:
    """One simple statement line (an import) parsed with the module's settings."""
    stmt = cst.parse_statement(text, config=module.config_for_parsing)
    if not isinstance(stmt, cst.SimpleStatementLine):
        raise ValueError(f"not a simple statement: {text!r}")
    return stmt


def _wrapped(module: cst.Module, small: cst.ImportFrom, aliases: Sequence[cst.ImportAlias]) -> cst.SimpleStatementLine:
    """One name per line with a trailing comma, as isort and ruff wrap a line that is too long."""
    nl = module.default_newline
    names = "".join(f"    {module.code_for_node(a.with_changes(comma=cst.MaybeSentinel.DEFAULT))},{nl}" for a in aliases)
    text = f"from {'.' * len(small.relative)}{_dotted(small.module)} import ({nl}{names}){nl}"
    return _parse_line(module, text)


def _join_from(
    module: cst.Module, stmt: cst.SimpleStatementLine, name: str, style: ImportStyle
) -> cst.SimpleStatementLine | None:
    """``stmt`` (``from mod import a, c``) with ``name`` added in sorted position; None if unsuitable."""
    small = stmt.body[0]
    if not isinstance(small, cst.ImportFrom) or isinstance(small.names, cst.ImportStar):
        return None
    if any(a.asname is not None and _dotted(a.name) == name for a in small.names):
        return None
    merged = _merged_aliases(list(small.names), name, style)
    joined = stmt.with_changes(body=[small.with_changes(names=merged)])
    one_line = module.code_for_node(joined.with_changes(leading_lines=[])).rstrip("\r\n")
    if "\n" in one_line or "\r" in one_line or len(one_line) <= style.line_length or _has_comment(stmt):
        return joined
    return _wrapped(module, small, merged).with_changes(leading_lines=stmt.leading_lines)


def _into_empty_block(body: list[Statement], start: int, stmt: cst.SimpleStatementLine) -> list[Statement]:
    """The first import of a module (after its docstring): spaced from the code after it."""
    if start == len(body):
        return [*body, stmt.with_changes(leading_lines=[] if start == 0 else _blank(1))]
    nxt = body[start]
    want = 2 if isinstance(nxt, cst.BaseCompoundStatement) else 1
    if start == 0:  # the import takes over the file's header comments
        new_stmt = stmt.with_changes(leading_lines=list(nxt.leading_lines))
        nxt = nxt.with_changes(leading_lines=_blank(want))
    else:
        new_stmt = stmt.with_changes(leading_lines=_blank(1))
        have = sum(ln.comment is None for ln in nxt.leading_lines)
        nxt = nxt.with_changes(leading_lines=_blank(max(0, want - have)) + list(nxt.leading_lines))
    return [*body[:start], new_stmt, nxt, *body[start + 1:]]


def _sections(block: Sequence[Statement], style: ImportStyle, path: str | None) -> list[int]:
    sections: list[int] = []
    for existing in block:
        if is_import_line(existing):
            m, lv, _ = _statement_key(existing)
            sections.append(section_of(m, lv, style, path))
        else:
            sections.append(sections[-1] if sections else STDLIB)
    return sections


def _before(block: list[Statement], at: int, stmt: cst.SimpleStatementLine, first: bool, gap: int) -> None:
    """Insert ``stmt`` before ``block[at]``; as the first line of its group it takes over that
    line's separator and comments, and that line keeps ``gap`` blank lines."""
    if first:
        block[at:at + 1] = [
            stmt.with_changes(leading_lines=list(block[at].leading_lines)),
            block[at].with_changes(leading_lines=_blank(gap)),
        ]
    else:
        block.insert(at, stmt.with_changes(leading_lines=_blank(gap)))


def _into_section(
    block: list[Statement], same: list[int], stmt: cst.SimpleStatementLine, style: ImportStyle
) -> None:
    """Into its existing section, before the first line that sorts after it."""
    key = _sort_key(*_statement_key(stmt), style)
    later = [i for i in same if _sorts_after(block[i], key, style)]
    if later:
        _before(block, later[0], stmt, later[0] == same[0], 0)
    else:
        block.insert(same[-1] + 1, stmt.with_changes(leading_lines=[]))


def _sorts_after(line: Statement, key: tuple[Any, ...], style: ImportStyle) -> bool:
    return is_import_line(line) and _sort_key(*_statement_key(line), style) > key


def _place(body: list[Statement], stmt: cst.SimpleStatementLine, style: ImportStyle, path: str | None) -> list[Statement]:
    """``body`` with ``stmt`` inserted into its isort section of the leading import block."""
    start, end = leading_block(body)
    if start == end:
        return _into_empty_block(body, start, stmt)
    module, level, _ = _statement_key(stmt)
    section = section_of(module, level, style, path)
    block = list(body[start:end])
    sections = _sections(block, style, path)
    same = [i for i, s in enumerate(sections) if s == section]
    after = [i for i, s in enumerate(sections) if s > section]
    if same:
        _into_section(block, same, stmt, style)
    elif after:  # a new section, before the first one that follows it in isort's order
        _before(block, after[0], stmt, after[0] == 0, 1)
    else:
        block.append(stmt.with_changes(leading_lines=_blank(1)))
    return [*body[:start], *block, *body[end:]]


def _from_line(body: Sequence[cst.BaseStatement], mod: str) -> int | None:
    """Index of the leading block's ``from mod import ...`` line (absolute import), if any."""
    start, end = leading_block(body)
    for i in range(start, end):
        line = body[i]
        small = line.body[0] if is_import_line(line) else None
        if isinstance(small, cst.ImportFrom) and not small.relative and _dotted(small.module) == mod:
            return i
    return None


def add_import_statements(
    module: cst.Module, wanted: Iterable[tuple[str, str | None]], path: str | None = None,
    style: ImportStyle | None = None,
) -> cst.Module:
    """Insert each missing import into its section; ``from`` names join an existing line."""
    style = style or style_for(path)
    body: list[Statement] = list(module.body)
    for mod, name in wanted:
        at = _from_line(body, mod) if name is not None and not style.force_single_line else None
        line = body[at] if at is not None else None
        joined = _join_from(module, line, name, style) if is_import_line(line) and name is not None else None
        if joined is not None and at is not None:
            body[at] = joined
        else:
            body = _place(body, _new_import(module, mod, name), style, path)
    return module.with_changes(body=body, has_trailing_newline=True)


def _new_import(module: cst.Module, mod: str, name: str | None) -> cst.SimpleStatementLine:
    text = f"import {mod}" if name is None else f"from {mod} import {name}"
    return _parse_line(module, text)


# --- removing ---------------------------------------------------------------------------------


def names_in(nodes: Iterable[cst.CSTNode]) -> set[str]:
    """Names read in the subtrees (not attribute names after a dot, not keyword-argument names)."""
    names: set[str] = set()
    todo = list(nodes)
    while todo:
        node = todo.pop()
        if isinstance(node, cst.Name):
            names.add(node.value)
        elif isinstance(node, (cst.Attribute, cst.Arg)):
            todo.append(node.value)  # the attribute's or the keyword's own name is not read
        else:
            todo.extend(children(node))
    return names


def _bindings(small: cst.Import | cst.ImportFrom) -> list[tuple[cst.ImportAlias, str]]:
    names = small.names
    if isinstance(names, cst.ImportStar):
        return []
    out = []
    for alias in names:
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            out.append((alias, alias.asname.name.value))
        elif isinstance(small, cst.Import):
            out.append((alias, _dotted(alias.name).split(".")[0]))
        else:
            out.append((alias, _dotted(alias.name)))
    return out


def module_import_names(module: cst.Module) -> set[str]:
    """Names bound by the module's top-level import statements (``__future__`` excluded)."""
    out: set[str] = set()
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)) and not _is_future(small):
                    out.update(n for _, n in _bindings(small))
    return out


def _is_future(small: cst.Import | cst.ImportFrom) -> bool:
    return isinstance(small, cst.ImportFrom) and _dotted(small.module) == "__future__"


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _used_names(code: str) -> set[str] | None:
    """Every name the code reads or mentions (in strings too: annotations, ``__all__``)."""
    try:
        tree = parse_ast(code)
    except (SyntaxError, ValueError, RecursionError):
        return None
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            used.update(node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            used.update(_WORD.findall(node.value))
    return used


def remove_unused(module: cst.Module, candidates: set[str]) -> cst.Module:
    """Drop top-level imports of ``candidates`` that nothing in the module uses any more.

    Only names a fix stopped using are candidates, so imports the project already left unused stay.
    An import line with a comment (``# noqa``, ``# type: ignore``) is left for its author.
    """
    used = _used_names(code_of(module)) if candidates else None
    dead = candidates - used if used is not None else set()
    if not dead:
        return module
    body: list[Statement] = []
    carry: list[cst.EmptyLine] | None = None  # leading lines of the statements just removed
    for stmt in module.body:
        new = _without(stmt, dead)
        if new is None:
            carry = [*(carry or []), *stmt.leading_lines]
            continue
        if carry is not None:
            new = new.with_changes(leading_lines=_merge_leading(carry, list(new.leading_lines), not body))
            carry = None
        body.append(new)
    return module.with_changes(body=body)


def _merge_leading(removed: list[cst.EmptyLine], own: list[cst.EmptyLine], first: bool) -> list[cst.EmptyLine]:
    """The leading lines of the statement after removed ones: their comments stay; the file's
    first statement does not start with a blank line."""
    if any(ln.comment is not None for ln in removed):
        return removed + own
    if first and not any(ln.comment for ln in own):
        return removed
    return own if own else removed


def _trimmed(small: cst.BaseSmallStatement, dead: set[str]) -> cst.BaseSmallStatement | None:
    """An import without its dead bindings (None: nothing left); anything else unchanged."""
    if not isinstance(small, (cst.Import, cst.ImportFrom)) or _is_future(small) or _has_comment(small):
        return small
    bindings = _bindings(small)
    keep = [a for a, n in bindings if n not in dead]
    if len(keep) == len(bindings):
        return small
    if not keep:
        return None
    last_comma = bindings[-1][0].comma
    return small.with_changes(names=[*keep[:-1], keep[-1].with_changes(comma=last_comma)])


def _without(stmt: Statement, dead: set[str]) -> Statement | None:
    """``stmt`` without the dead import bindings; None when nothing of it is left."""
    if not isinstance(stmt, cst.SimpleStatementLine) or stmt.trailing_whitespace.comment is not None:
        return stmt
    kept = [t for t in (_trimmed(small, dead) for small in stmt.body) if t is not None]
    if not kept:
        return None
    if len(kept) == len(stmt.body) and all(a is b for a, b in zip(kept, stmt.body)):
        return stmt
    last = kept[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
    return stmt.with_changes(body=[*kept[:-1], last])


def _has_comment(small: cst.CSTNode) -> bool:
    found = False

    class _Find(cst.CSTVisitor):
        def visit_Comment(self, node: cst.Comment) -> None:
            nonlocal found
            found = True

    small.visit(_Find())
    return found


def drop_imports_left_unused(before: cst.Module, after: cst.Module) -> cst.Module:
    """``after`` without the top-level imports ``before`` used and ``after`` no longer does
    (a cross-file fix that removed the only ``except RedisError``)."""
    bound = module_import_names(before)
    if not bound or before is after:
        return after
    used = _used_names(code_of(before))
    return remove_unused(after, bound & used) if used else after


def _plain_imports(lines: Sequence[cst.SimpleStatementLine]) -> list[tuple[str, str | None]] | None:
    """The ``(module, name)`` pairs of plain absolute imports; None if any is aliased, relative
    or a star (those are left as written)."""
    wanted: list[tuple[str, str | None]] = []
    for stmt in lines:
        pairs = _plain_pairs(stmt.body[0])
        if pairs is None:
            return None
        wanted.extend(pairs)
    return wanted


def _plain_pairs(small: cst.BaseSmallStatement) -> list[tuple[str, str | None]] | None:
    """One import's ``(module, name)`` pairs; None unless it is plain (absolute, unaliased, no star)."""
    if isinstance(small, cst.ImportFrom):
        names = small.names
        if small.relative or isinstance(names, cst.ImportStar) or _aliased(names):
            return None
        module = _dotted(small.module)
        return [(module, _dotted(a.name)) for a in names]
    if isinstance(small, cst.Import) and not _aliased(small.names):
        return [(_dotted(a.name), None) for a in small.names]
    return None


def _aliased(names: Sequence[cst.ImportAlias]) -> bool:
    return any(a.asname for a in names)


def organize_new_module(text: str, path: str | None = None) -> str:
    """A generated module's leading imports re-placed section by section (sorted, as isort would).

    Only for files a fix creates: the project's own import blocks are never reordered.
    """
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError:
        return text
    start, end = leading_block(module.body)
    lines = [s for s in module.body[start:end] if is_import_line(s) and not _has_comment(s)]
    wanted = _plain_imports(lines) if len(lines) == end - start else None
    if not wanted:
        return text
    rest = list(module.body[end:])
    if rest:
        rest[0] = rest[0].with_changes(leading_lines=list(module.body[start].leading_lines))
    bare = module.with_changes(body=[*module.body[:start], *rest])
    return add_import_statements(bare, wanted, path).code
