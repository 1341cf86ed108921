"""The rule API: a rule is a small libcst visitor class with its docs and examples beside it.

A rule declares what it needs (prefilter tokens, metadata providers, options) so the engine can
skip files it cannot match and resolve metadata once per file for all rules together. Rules report
nodes; positions are computed by the engine only when something was reported.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from wsrefactor.lazy import cst
from wsrefactor.model import FixSafety, Severity
from wsrefactor.names import ImportTable
from wsrefactor.semantic.analyses import Analyses
from wsrefactor.semantic.detection import Detection
from wsrefactor.semantic.imports import Imports
from wsrefactor.walk import Replacement

AnalysisT = TypeVar("AnalysisT")


@dataclass(frozen=True)
class Option:
    """A per-rule option, set in ``[tool.wsrefactor.<CODE>]`` as ``name = value``."""

    name: str
    type: type | tuple[type, ...]
    default: Any
    doc: str


@dataclass(eq=False)
class Fix:
    """A CST-level fix: node replacements plus module-level additions.

    ``imports`` are ``(module, name)`` pairs (``name`` None for ``import module``);
    ``module_statements`` are statements (source text) added once after the imports.
    """

    safety: FixSafety
    description: str
    replacements: dict[cst.CSTNode, Replacement] = field(default_factory=dict)
    imports: tuple[tuple[str, str | None], ...] = ()
    module_statements: tuple[str, ...] = ()
    # Whole new files the fix creates, as (path, text); paths relative to the fixed file's
    # directory or absolute. A file that already exists with other content is never overwritten.
    new_files: tuple[tuple[str, str], ...] = ()
    # Expensive fixes (extract method, generated code) can be built lazily: the engine calls
    # ``build(fix)`` only when the fix is applied or its edits are reported; it fills in the
    # fields above (leaving them empty means "no fix after all").
    build: Callable[[Fix], None] | None = None
    # Where the finding was reported, (line, column); set by the engine.
    at: tuple[int, int] = (0, 0)
    # Nodes whose text span this fix owns; two fixes owning overlapping spans are not applied
    # in the same pass (the later one is re-found and applied in the next pass).
    anchors: tuple[cst.CSTNode, ...] = ()


@dataclass(frozen=True)
class Example:
    """A rule example: ``code`` to check; for invalid ones, the expected fixed code (if any)."""

    code: str
    fixed: str | None = None
    # 1-based lines where findings are expected (invalid examples); empty = at least one anywhere.
    lines: tuple[int, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    target_version: str | None = None

    @property
    def source(self) -> str:
        return textwrap.dedent(self.code).lstrip("\n")

    @property
    def fixed_source(self) -> str | None:
        return None if self.fixed is None else textwrap.dedent(self.fixed).lstrip("\n")


def Valid(code: str, **kw: Any) -> Example:  # noqa: N802 - reads like Fixit's examples
    return Example(code=code, **kw)


def Invalid(code: str, fixed: str | None = None, **kw: Any) -> Example:  # noqa: N802
    return Example(code=code, fixed=fixed, **kw)


@dataclass(frozen=True)
class AstReport:
    """A finding decided from Python's ``ast`` alone (no libcst parse), for a plain check.

    ``fixable`` says whether a fix would be offered; the fix itself is built through the libcst
    path when the user fixes or asks for edits.
    """

    line: int
    column: int
    end_line: int
    end_column: int
    message: str
    fixable: bool
    stmt_line: int
    stmt_end_line: int
    context: str


@dataclass(frozen=True)
class Report:
    node: cst.CSTNode
    message: str
    fix: Fix | None
    stmt: cst.CSTNode | None = None  # innermost statement around the node (suppression line)
    scope: str = ""  # dotted names of enclosing classes/functions (fingerprints)
    extra: tuple[tuple[str, Any], ...] = ()
    # Set by ``SemanticRule``: the finding is exactly this detection (both output paths agree).
    detection: Detection | None = None


class FileContext:
    """What a rule may know about the file under analysis, shared by every rule of the pass."""

    def __init__(
        self,
        path: str,
        module: cst.Module,
        options: Mapping[str, Mapping[str, Any]],
        target_version: tuple[int, int],
        tree: ast.Module | None = None,
        root: str = ".",
        text: str | None = None,
        analyses: Analyses | None = None,
    ) -> None:
        self.path = path
        self.root = root  # the project root (the config file's directory): anchors options' paths
        self.tree = tree  # Python's ast of the same text, when the engine parsed it
        # The text ``module`` was parsed from, when the engine knows it (``module.code`` would
        # generate it again); ``analyses`` of that text and tree, when already computed.
        self.text = text
        self.module = module
        self._options = options
        self.target_version = target_version
        self._imports: ImportTable | None = None
        # Set by the engine: lets a rule resolve an expensive provider only when it needs it
        # (e.g. scopes while building a lazy fix), instead of declaring it for every file.
        self.wrapper: Any = None
        # Ancestors of the node being visited, outermost first (maintained by the engine).
        self.ancestors: list[cst.CSTNode] = []
        self._analyses: Analyses | None = analyses
        self._positions: Any = None
        self._parents: Mapping[cst.CSTNode, cst.CSTNode] | None = None

    @property
    def analyses(self) -> Analyses:
        """The engine-owned per-file cache of ``ast`` analyses (see ``wsrefactor.semantic``)."""
        if self._analyses is None:
            text = self.text if self.text is not None else self.module.code
            tree = self.tree if self.tree is not None else ast.parse(text)
            self._analyses = Analyses(tree, text, self.path)
        return self._analyses

    def analysis(self, kind: type[AnalysisT]) -> AnalysisT:
        """An analysis of this file (``ctx.analysis(SemanticModel)``), computed once, shared."""
        return self.analyses(kind)  # type: ignore[type-var, no-any-return]

    @property
    def positions(self) -> Any:
        """Lazy node positions of this module (``wsrefactor.positions.Positions``)."""
        if self._positions is None:
            from wsrefactor.positions import Positions

            if self.wrapper is None:
                raise RuntimeError("positions are only available while the engine analyses a file")
            self._positions = Positions(self.wrapper, self.text, self.tree)
        return self._positions

    @property
    def parents(self) -> Mapping[cst.CSTNode, cst.CSTNode]:
        """Node -> parent over the nodes ``positions`` finds (libcst's ``ParentNodeProvider``
        without its metadata pass), built on first use."""
        if self._parents is None:
            from wsrefactor.walk import parents

            self._parents = parents(self.wrapper.module if self.wrapper is not None else self.module)
        return self._parents

    @property
    def imports(self) -> ImportTable:
        if self._imports is None:
            self._imports = ImportTable(self.module)
        return self._imports

    def metadata_for(self, provider: type) -> Mapping[cst.CSTNode, Any]:
        """A metadata provider's results for this file, computed on first use, then cached."""
        if self.wrapper is None:
            raise RuntimeError("metadata is only available while the engine analyses a file")
        return self.wrapper.resolve(provider)  # type: ignore[no-any-return]

    def qualname(self, node: cst.BaseExpression) -> str | None:
        return self.imports.resolve(node)

    def options_for(self, code: str) -> Mapping[str, Any]:
        return self._options.get(code, {})

    def enclosing_function(self) -> cst.FunctionDef | cst.Lambda | None:
        """Innermost ``def`` or ``lambda`` around the current node (the node itself excluded)."""
        for node in reversed(self.ancestors[:-1]):
            if isinstance(node, (cst.FunctionDef, cst.Lambda)):
                return node
        return None

    def in_async_function(self) -> bool:
        """True when the nearest enclosing function is an ``async def`` (not a sync def/lambda)."""
        func = self.enclosing_function()
        return isinstance(func, cst.FunctionDef) and func.asynchronous is not None

    def parent(self) -> cst.CSTNode | None:
        return self.ancestors[-2] if len(self.ancestors) >= 2 else None

    def current_statement(self) -> cst.CSTNode | None:
        for node in reversed(self.ancestors):
            if isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                return node
        return None

    def scope_name(self) -> str:
        return ".".join(
            n.name.value for n in self.ancestors if isinstance(n, (cst.FunctionDef, cst.ClassDef))
        )


_NO_DEFAULT: Any = object()


class Rule:
    """Base class of every rule.

    The class docstring is the rule's documentation in the ruff layout (``## What it does``,
    ``## Why is this bad?``, ``## Example``, ``## Use instead``, ``## Options``), printed by
    ``wsrefactor explain CODE``.
    """

    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    category: ClassVar[str] = ""
    severity: ClassVar[Severity] = Severity.WARNING
    fix_safety: ClassVar[FixSafety] = FixSafety.NONE
    # Fixes of an otherwise unsafe rule that keep behaviour (applied by a plain ``fix``): the
    # rule is listed as ``mixed``.
    safe_fixes: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = ""
    # A file is analysed by this rule only if its text contains one of these (empty: always).
    tokens: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[tuple[Option, ...]] = ()
    VALID: ClassVar[Sequence[Example]] = ()
    INVALID: ClassVar[Sequence[Example]] = ()
    # Project rules collect facts per file and decide across files (see ProjectRule).
    is_project_rule: ClassVar[bool] = False
    # The rule reads cross-module facts (``analyses.facts``): the runner then summarizes the
    # project's modules before the per-file pass (``wsrefactor/crossmodule.py``).
    uses_project_facts: ClassVar[bool] = False
    # libcst metadata providers a libcst-visiting rule reads with ``get_metadata`` (each costs
    # several times the parse; resolved once per file for every rule of the pass)
    METADATA_DEPENDENCIES: ClassVar[tuple[type, ...]] = ()

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self.metadata: Mapping[type, Mapping[cst.CSTNode, Any]] = {}  # set by the engine
        self.reports: list[Report] = []
        defaults = {o.name: o.default for o in self.options}
        self.opts: dict[str, Any] = {**defaults, **dict(ctx.options_for(self.code))}

    @classmethod
    def metadata_dependencies(cls) -> frozenset[type]:
        """``METADATA_DEPENDENCIES`` of the class and its bases (libcst's inherited dependencies)."""
        return frozenset(dep for klass in cls.__mro__ for dep in vars(klass).get("METADATA_DEPENDENCIES", ()))

    def get_metadata(self, key: type, node: cst.CSTNode, default: Any = _NO_DEFAULT) -> Any:
        """``key``'s value for ``node``, as libcst's ``MetadataDependent.get_metadata``. (A rule is
        not a libcst visitor class: the engine walks the tree and calls its ``visit_``/``leave_``
        hooks, and libcst is not imported until a fix is built, see ``wsrefactor.lazy``.)"""
        values = self.metadata[key]
        return values[node] if default is _NO_DEFAULT else values.get(node, default)

    @classmethod
    def matches_text(cls, text: str) -> bool:
        return not cls.tokens or any(t in text for t in cls.tokens)

    @classmethod
    def wants(cls, text: str, tree: ast.Module | None, options: Mapping[str, Any]) -> bool:
        """Whether this file needs the libcst pass for this rule (the cheap prefilter).

        ``tree`` is Python's own ``ast`` of the file, parsed once for every rule; rules that can
        decide from it (complexity, say) override this so most files are never parsed by libcst.
        """
        return cls.matches_text(text)

    @classmethod
    def ast_reports(
        cls, tree: ast.Module, text: str, options: Mapping[str, Any]
    ) -> list[AstReport] | None:
        """Findings from the ``ast`` alone when the rule can decide that way (None: it cannot).

        Used only when no fix or edit is wanted, so such files skip libcst entirely.
        """
        return None

    @classmethod
    def docs(cls) -> str:
        return textwrap.dedent(cls.__doc__ or "").strip()

    def report(
        self,
        node: cst.CSTNode,
        message: str | None = None,
        *,
        fix: Fix | None = None,
        stmt: cst.CSTNode | None = None,
        scope: str | None = None,
        **extra: Any,
    ) -> None:
        """Report ``node``. ``stmt``/``scope`` default to the statement and scope being visited;
        rules that report later (in ``leave_Module``) pass the ones they saved."""
        self.reports.append(
            Report(
                node,
                message or self.summary,
                fix,
                stmt=stmt if stmt is not None else self.ctx.current_statement(),
                scope=scope if scope is not None else self.ctx.scope_name(),
                extra=tuple(sorted(extra.items())),
            )
        )


class SemanticRule(Rule):
    """A rule that decides once, on the semantic model, and fixes from the finding's span.

    ``detect`` reads analyses of Python's ``ast`` (``analyses(SemanticModel)``) and yields
    ``Detection``s; a plain check never parses libcst for it. When fixes or edits are wanted, the
    engine parses libcst once, finds for each fixable detection the node of ``fix_node_types``
    spanning it exactly, and calls ``fix``. The cheap gate is declared: ``tokens`` (one must occur
    in the text) and ``requires_any_import`` (some import must come from one of these modules).
    """

    requires_any_import: ClassVar[tuple[str, ...]] = ()
    # The libcst node classes a fix starts from, by name (``("Call",)``): libcst is imported only
    # when a fix is built (``wsrefactor.lazy``), so a class body cannot name its classes. (A
    # plugin's rule may still give the classes themselves; that plugin then imports libcst.)
    fix_node_types: ClassVar[tuple[str | type, ...]] = ()

    @classmethod
    def detect(cls, analyses: Analyses, options: Mapping[str, Any]) -> Iterable[Detection]:
        """The findings of one file, decided from its analyses (``options``: defaults merged)."""
        raise NotImplementedError

    def fix(self, node: cst.CSTNode, detection: Detection) -> Fix | None:
        """The fix for a fixable detection, given the libcst node at its span (``self.ctx`` is
        the file's context). Must return a Fix whenever ``detection.fixable`` is true."""
        return None

    @classmethod
    def detections(cls, analyses: Analyses, options: Mapping[str, Any]) -> list[Detection]:
        """``detect`` behind the declared gate, in source order."""
        if not cls.matches_text(analyses.text):
            return []
        if (cls.requires_any_import and not analyses(Imports).imports_any(cls.requires_any_import)
                and not (cls.uses_project_facts and (analyses.facts.connections or analyses.facts.queues))):
            return []
        merged = {o.name: o.default for o in cls.options} | dict(options)
        return sorted(cls.detect(analyses, merged), key=lambda d: (d.line, d.column, d.end_line, d.end_column))

    def visit_Module(self, node: cst.Module) -> None:
        """The libcst path (fixes or edits wanted): the same detections, each with its fix."""
        for found in self.detections(self.ctx.analyses, self.opts):
            target = None
            if found.fixable and self.fix_node_types:
                kinds = tuple(getattr(cst, k) if isinstance(k, str) else k for k in self.fix_node_types)
                target = self.ctx.positions.find(found.start, found.end, kinds)
            fix = self.fix(target, found) if target is not None else None
            self.reports.append(
                Report(target if target is not None else node, found.message, fix, detection=found)
            )


class ProjectRule(Rule):
    """A rule that needs the whole repository.

    In the workers, it visits each file like any rule and records small picklable facts with
    ``add_fact``. In the project phase, ``finalize`` sees every file's facts and returns findings
    (``ProjectFinding``) whose fixes are payloads applied per file by ``apply_payload`` (in the
    fixing pass, on a fresh parse) plus whole new files.
    """

    is_project_rule = True

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self.facts: list[Any] = []

    def add_fact(self, fact: Any) -> None:
        self.facts.append(fact)

    @classmethod
    def ast_facts(cls, tree: ast.Module, text: str, path: str) -> list[Any]:
        """Cheap facts recorded for EVERY file from Python's ``ast`` (imports, defined names...),
        even when ``wants`` keeps the file away from libcst. ``finalize`` receives them first,
        followed by the facts of the libcst visit (if the file had one)."""
        return []

    @classmethod
    def file_facts(cls, analyses: Analyses, options: Mapping[str, Any]) -> list[Any]:
        """The facts the runner records for EVERY file before any libcst pass (``options``: the
        rule's, as configured). By default ``ast_facts``; ``SemanticProjectRule`` overrides it."""
        return cls.ast_facts(analyses.tree, analyses.text, analyses.path)

    @classmethod
    def finalize(
        cls, facts: Mapping[str, Sequence[Any]], options: Mapping[str, Any]
    ) -> list[ProjectFinding]:
        return []

    @classmethod
    def apply_payload(cls, module: cst.Module, payload: Any, path: str) -> cst.Module:
        return module


class SemanticProjectRule(ProjectRule):
    """A project rule that decides each file's facts once, on the semantic model, and never visits
    libcst (the ``SemanticRule`` path for cross-file rules).

    - ``collect(analyses, options)`` yields every fact of one file (options: defaults merged),
      decided from ``wsrefactor.semantic`` analyses of Python's ``ast``; the runner calls it for
      every file (``file_facts``), in plain checks and fixing runs alike, so the libcst pass never
      runs for the rule (``wants`` is False) and there is no ``ast_facts``/visitor twin.
    - ``finalize(facts, options)`` decides across files, as for any ``ProjectRule``; facts carry
      their own positions (1-based lines and character columns, like ``Detection``).
    - ``apply_payload(module, payload, path)`` builds the fix with libcst on a fresh parse of the
      file as it is by then (file rules may have changed it): it locates its nodes by running the
      same ``ast`` decision again on that text and finding the libcst node at each span
      (``wsrefactor.positions.node_at``), so the decision is never re-made on libcst.
    Facts must be small, frozen, picklable records (shards encode them; see ``shard.py``).
    """

    @classmethod
    def collect(cls, analyses: Analyses, options: Mapping[str, Any]) -> Iterable[Any]:
        """Every fact of one file, decided from its analyses."""
        raise NotImplementedError

    @classmethod
    def wants(cls, text: str, tree: ast.Module | None, options: Mapping[str, Any]) -> bool:
        return False  # every fact comes from ``collect``: the libcst pass has nothing to do

    @classmethod
    def file_facts(cls, analyses: Analyses, options: Mapping[str, Any]) -> list[Any]:
        merged = {o.name: o.default for o in cls.options} | dict(options)
        return list(cls.collect(analyses, merged))


@dataclass(frozen=True)
class ProjectEdit:
    """A cross-file fix: payloads per existing file, and new files (path -> text)."""

    safety: FixSafety
    description: str
    payloads: tuple[tuple[str, Any], ...] = ()
    new_files: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ProjectFinding:
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    message: str
    fix: ProjectEdit | None = None
    stmt_line: int = 0
    context: str = ""


def fix_label(rule: type[Rule]) -> str:
    """How ``wsrefactor rules`` and the README show a rule's fix: safe, unsafe, none or mixed
    (an unsafe rule some of whose fixes are safe, e.g. WS201's ``asyncio.sleep`` swap)."""
    if rule.fix_safety is FixSafety.UNSAFE and rule.safe_fixes:
        return "mixed"
    return rule.fix_safety.value
