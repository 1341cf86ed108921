"""The upstream shapes ``wsrefactor/compat/`` relies on are still there.

Each check names the private symbol and the installed version when it fails, so an upgrade of
libcst or bandit that moves one of them says what to adapt instead of failing somewhere deep
in a rule run. The version ranges in ``pyproject.toml`` must equal the ones the compat modules
declare.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import re
import sys
import textwrap
from collections.abc import MutableMapping
from importlib.metadata import version
from typing import Any

import libcst as cst
import pytest
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from tests.conftest import REPO
from wsrefactor.compat import bandit as compat_bandit
from wsrefactor.compat import libcst as compat_libcst

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _require(condition: object, library: str, symbol: str, detail: str) -> None:
    """Fail loudly: which private symbol changed, in which installed version, where to adapt."""
    if not condition:
        module = {"libcst": compat_libcst, "bandit": compat_bandit}[library]
        pytest.fail(
            f"{library} {version(library)}: upstream shape of `{symbol}` changed: {detail}. "
            f"wsrefactor/compat/{library}.py was checked against {library} {', '.join(module.CHECKED)}; "
            "adapt that module (and its version cap in pyproject.toml).",
            pytrace=False,
        )


def _parameters(func: Any) -> list[str]:
    return list(inspect.signature(func).parameters)


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


# --------------------------------------------------------------------------
# versions
# --------------------------------------------------------------------------


@pytest.mark.parametrize("library, module", [("libcst", compat_libcst), ("bandit", compat_bandit)])
def test_pyproject_caps_match_the_compat_module(library: str, module: Any) -> None:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    spec = next((d for d in deps if re.match(rf"{library}\b", d)), None)
    assert spec == f"{library}>={module.LOWER},<{module.UPPER}", (
        f"pyproject.toml declares {spec!r}; wsrefactor/compat/{library}.py allows >={module.LOWER},<{module.UPPER}"
    )
    for checked in module.CHECKED:
        assert _release(module.LOWER) <= _release(checked) < _release(module.UPPER), (library, checked)


@pytest.mark.parametrize("library, module", [("libcst", compat_libcst), ("bandit", compat_bandit)])
def test_installed_version_is_in_the_declared_range(library: str, module: Any) -> None:
    installed = _release(version(library))
    _require(
        _release(module.LOWER) <= installed < _release(module.UPPER), library, library,
        f"installed {version(library)} is outside >={module.LOWER},<{module.UPPER}",
    )


# --------------------------------------------------------------------------
# libcst
# --------------------------------------------------------------------------


def _node_classes() -> list[type[cst.CSTNode]]:
    found: list[type[cst.CSTNode]] = []
    todo = [cst.CSTNode]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


def test_libcst_visit_and_replace_children_visits_named_fields() -> None:
    symbol = "CSTNode._visit_and_replace_children"
    defining = [c for c in _node_classes() if "_visit_and_replace_children" in c.__dict__]
    _require(len(defining) > 50, "libcst", symbol, f"only {len(defining)} node classes define it")
    for cls in defining:
        _require(
            _parameters(cls._visit_and_replace_children) == ["self", "visitor"], "libcst", f"{cls.__name__}.{symbol[8:]}",
            f"signature is {inspect.signature(cls._visit_and_replace_children)}, expected (self, visitor)",
        )
    # the node classes trees hold (no subclasses): the method they inherit visits their fields
    for cls in (c for c in _node_classes() if not c.__subclasses__()):
        fields = compat_libcst.child_fields(cls)
        _require(fields is not None, "libcst", f"{cls.__name__}._visit_and_replace_children",
                 "its source is unavailable or holds no visit_*(node, 'field', ...) calls")
        assert fields is not None
        names = {f.name for f in dataclasses.fields(cls)}
        _require(set(fields) <= names, "libcst", f"{cls.__name__}._visit_and_replace_children",
                 f"visits {sorted(set(fields) - names)}, which are not fields of the node")
    _require(
        compat_libcst.child_fields(cst.FunctionDef) is not None
        and {"decorators", "name", "params", "body"} <= set(compat_libcst.child_fields(cst.FunctionDef) or ()),
        "libcst", "FunctionDef._visit_and_replace_children", "no longer visits decorators, name, params and body",
    )


def test_libcst_visit_helpers_take_node_field_first() -> None:
    """``child_fields`` reads the field name from the second argument of libcst's
    ``visit_required``/``visit_sequence``/... calls."""
    from libcst._nodes import internal

    helpers = [n for n in dir(internal) if n.startswith("visit_")]
    _require(helpers, "libcst", "libcst._nodes.internal.visit_*", "no visit_* helpers")
    for name in helpers:
        params = _parameters(getattr(internal, name))
        _require(params[:2] == ["parent", "fieldname"], "libcst", f"libcst._nodes.internal.{name}",
                 f"parameters are {params}, expected (parent, fieldname, ...)")


def test_libcst_codegen_and_position_state() -> None:
    from libcst.metadata import position_provider

    _require(hasattr(position_provider, "PositionProvidingCodegenState"), "libcst",
             "libcst.metadata.position_provider.PositionProvidingCodegenState", "no longer exists")
    state_fields = {f.name for f in dataclasses.fields(position_provider.PositionProvidingCodegenState)}
    _require({"default_indent", "default_newline", "provider"} <= state_fields, "libcst",
             "PositionProvidingCodegenState", f"fields are {sorted(state_fields)}")
    _require(_parameters(cst.CSTNode._codegen)[:2] == ["self", "state"], "libcst", "CSTNode._codegen",
             f"signature is {inspect.signature(cst.CSTNode._codegen)}, expected (self, state, **kwargs)")
    provider = PositionProvider()
    _require(isinstance(getattr(provider, "_computed", None), MutableMapping), "libcst",
             "PositionProvider._computed", "is not a mutable mapping on a fresh provider")


def test_libcst_position_recorder_equals_the_full_provider() -> None:
    """The piecewise pass records, statement by statement, what the full pass computes."""
    text = "#!/usr/bin/env python\n# head\n\nimport a\n\n@d\nclass C:\n    def f(self, x: int = 1) -> None:\n        return a.b(x)\n"
    module = cst.parse_module(text)
    full = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    recorder = compat_libcst.PositionRecorder(module)
    for line in module.header:
        recorder.generate(line)
    for stmt in module.body:
        recorder.generate(stmt)
        _require(stmt in recorder.computed, "libcst", "PositionProvider._computed",
                 "a generated statement has no recorded position")
    got = recorder.computed
    _require(all(isinstance(v, CodeRange) for v in got.values()), "libcst", "PositionProvider._computed",
             "holds values that are not CodeRange")
    for node, rng in full.items():
        if node is not module:
            _require(got.get(node) == rng, "libcst", "PositionProvidingCodegenState",
                     f"{type(node).__name__} at {rng} recorded as {got.get(node)}")


# --------------------------------------------------------------------------
# bandit
# --------------------------------------------------------------------------


def test_bandit_manager_shape() -> None:
    from bandit.core import manager as b_manager

    params = _parameters(b_manager.BanditManager.__init__)
    _require(params[:3] == ["self", "config", "agg_type"] and "quiet" in params, "bandit",
             "bandit.core.manager.BanditManager.__init__", f"parameters are {params}")
    manager = compat_bandit.manager()
    _require(hasattr(manager, "b_ma"), "bandit", "BanditManager.b_ma", "attribute missing")
    _require(isinstance(getattr(getattr(manager, "b_ts", None), "tests", None), dict), "bandit",
             "BanditManager.b_ts.tests", "is not a dict of node type -> tests")


@pytest.mark.parametrize(
    "comment, expected",
    [("# nosec", set()), ("# nosec B101, B602", {"B101", "B602"}), ("# a plain comment", None)],
)
def test_bandit_parse_nosec_comment(comment: str, expected: set[str] | None) -> None:
    from bandit.core import manager as b_manager

    _require(hasattr(b_manager, "_parse_nosec_comment"), "bandit", "bandit.core.manager._parse_nosec_comment",
             "no longer exists")
    got = compat_bandit.parse_nosec_comment(comment)
    _require(got == expected, "bandit", "bandit.core.manager._parse_nosec_comment",
             f"returns {got!r} for {comment!r}, expected {expected!r}")


def test_bandit_visitor_and_tester_shape() -> None:
    parts = compat_bandit.visitor_parts()
    visitor_params = _parameters(parts.visitor.__init__)
    _require(
        visitor_params == ["self", "fname", "fdata", "metaast", "testset", "debug", "nosec_lines", "metrics"],
        "bandit", "bandit.core.node_visitor.BanditNodeVisitor.__init__", f"parameters are {visitor_params}",
    )
    tester_params = _parameters(parts.tester.__init__)
    _require(tester_params == ["self", "testset", "debug", "nosec_lines", "metrics"], "bandit",
             "bandit.core.tester.BanditTester.__init__", f"parameters are {tester_params}")
    for name, expected in (("_get_nosecs_from_contexts", ["self", "context", "test_result"]),
                           ("run_tests", ["self", "raw_context", "checktype"])):
        got = _parameters(getattr(parts.tester, name, None) or (lambda: None))
        _require(got == expected, "bandit", f"bandit.core.tester.BanditTester.{name}", f"parameters are {got}")
    for name in ("pre_visit", "visit", "post_visit", "generic_visit", "update_scores"):
        _require(callable(getattr(parts.visitor, name, None)), "bandit", f"BanditNodeVisitor.{name}",
                 "missing (bandit_bridge overrides it)")
    manager = compat_bandit.manager()
    visitor = parts.visitor("x.py", io.BytesIO(b""), manager.b_ma, manager.b_ts, False, {}, None)
    for attr in ("fname", "fdata", "imports", "import_aliases", "namespace", "metrics", "tester"):
        _require(hasattr(visitor, attr), "bandit", f"BanditNodeVisitor.{attr}", "not set by __init__")
    _require(parts.linerange(ast.parse("x = (1,\n 2)\n").body[0]) == [1, 2], "bandit",
             "bandit.core.utils.linerange", "no longer the list of a node's lines")
    _require(parts.namespace_split("a.b.c") == ("a.b", "c"), "bandit", "bandit.core.utils.namespace_path_split",
             "no longer splits off the last name")


def test_bandit_pre_visit_context_keys_are_ours() -> None:
    """``bandit_bridge._LeanVisitor.pre_visit`` rebuilds bandit's context without its logging:
    the keys bandit's own ``pre_visit`` sets must be the ones ours sets."""
    from wsrefactor.bandit_bridge import _LeanVisitor

    def keys(func: Any) -> list[str]:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
        found = [
            n.slice.value for n in ast.walk(tree)
            if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant) and isinstance(n.slice.value, str)
            and isinstance(n.value, ast.Attribute) and n.value.attr == "context"
        ]
        found += [k.value for n in ast.walk(tree) if isinstance(n, ast.Dict) for k in n.keys
                  if isinstance(k, ast.Constant) and isinstance(k.value, str)]
        found += [n.slice.value for n in ast.walk(tree)
                  if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and n.value.id == "context"
                  and isinstance(n.slice, ast.Constant) and isinstance(n.slice.value, str)]
        return sorted(set(found))

    theirs = keys(compat_bandit.visitor_parts().visitor.pre_visit)
    _require(theirs == keys(_LeanVisitor.pre_visit), "bandit", "BanditNodeVisitor.pre_visit",
             f"sets context keys {theirs}; bandit_bridge._LeanVisitor.pre_visit sets {keys(_LeanVisitor.pre_visit)}")


def test_bandit_plugin_catalogue_shape() -> None:
    plugins = compat_bandit.plugins()
    _require(len(plugins) > 20, "bandit", "extension_loader.MANAGER.plugins", f"only {len(plugins)} plugins")
    for code, name, _plugin in plugins:
        _require(re.fullmatch(r"B\d{3}", code) and name, "bandit", "plugin.plugin._test_id",
                 f"plugin {name!r} has test id {code!r}")
    by_id = compat_bandit.plugins_by_id()
    _require("B602" in by_id and callable(by_id["B602"].plugin), "bandit", "extension_loader.MANAGER.plugins_by_id",
             "has no B602 (subprocess_popen_with_shell_equals_true) plugin")
    blacklist = compat_bandit.blacklist_by_id()
    _require("B301" in blacklist and {"name", "message"} <= set(blacklist["B301"]), "bandit",
             "extension_loader.MANAGER.blacklist_by_id", "B301 (pickle) is missing or lacks name/message")
    url = compat_bandit.doc_url("B602")
    _require(url.startswith("https://") and "b602" in url.lower(), "bandit", "bandit.core.docs_utils.get_url",
             f"returns {url!r} for B602")


def test_bandit_trojansource_plugin_shape() -> None:
    plugin = compat_bandit.trojansource()
    _require(plugin is not None, "bandit", "bandit.plugins.trojansource", "the module is gone")
    assert plugin is not None
    check, characters = plugin
    _require(callable(check) and "\u202e" in characters, "bandit", "bandit.plugins.trojansource.BIDI_CHARACTERS",
             "no longer lists the right-to-left override")
    tests = [t for group in compat_bandit.manager().b_ts.tests.values() for t in group]
    _require(any(t is check for t in tests), "bandit", "bandit.plugins.trojansource.trojansource",
             "is not the function in the manager's test set (bandit_bridge removes it by identity)")
