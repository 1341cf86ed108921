"""WS301/WS302 dispatch handlers (issue 14, item 2): an if/elif on a message kind becomes one
handler per branch and a dispatch (``match`` or the same chain of calls) in the original function.

The two shapes of the golden cases ``fixtures/WS301/dispatch_in_try.py`` (the chain inside a
``try``, one-line branches) and ``fixtures/WS301/dispatch_loop_continue.py`` (enum members, a
guarded branch, branches that ``continue`` the loop) are run before and after the fix on the same
inputs, including the ``continue`` paths and an unknown kind.
"""

from __future__ import annotations

import copy
import enum
import functools
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from wsrefactor.testing import check_source, fix_source

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "WS301"


def _load(text: str, name: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": name}
    exec(compile(text, f"<{name}>", "exec"), namespace)
    return namespace


@functools.cache
def _fixed(case: str) -> tuple[str, str]:
    source = (FIXTURES / f"{case}.py").read_text()
    return source, fix_source(source, ["WS301"])


def _pair(case: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    source, fixed = _fixed(case)
    return _load(source, "before"), _load(fixed, "after"), fixed


def _helpers(fixed: str) -> set[str]:
    return set(re.findall(r"def (_\w+)\(", fixed))


# -- the chain inside a ``try`` --------------------------------------------------------------

MODELS: list[tuple[dict[str, Any], str]] = [
    ({"type": "notebook", "content": ["a", 1]}, "nb.ipynb"),
    ({"type": "notebook", "content": []}, "/empty.ipynb/"),
    ({"type": "file", "content": "x", "format": "base64"}, "f.bin"),
    ({"type": "file", "content": "text"}, "f.txt"),
    ({"type": "directory"}, "dir"),
    ({"type": "unknown", "content": "?"}, "u"),  # the ``else`` branch raises inside the try
    ({"type": "file"}, "no-content"),
    ({"content": "x"}, "no-type"),
    ({"type": "file", "content": "x"}, ".hidden"),
    ({"type": "notebook", "content": None}, "broken.ipynb"),  # TypeError -> wrapped 500
]


def _save(ns: dict[str, Any], model: dict[str, Any], path: str, hidden_ok: bool) -> Any:
    store = ns["Store"]()
    store.hidden_ok = hidden_ok
    store.checkpoints["nb.ipynb"] = 7
    try:
        result: Any = store.save(copy.deepcopy(model), path)
    except ns["StoreError"] as e:
        result = ("error", e.status, str(e))
    return result, store.files, store.checkpoints, store.log


@pytest.mark.parametrize("hidden_ok", [False, True])
@pytest.mark.parametrize("model,path", MODELS)
def test_dispatch_in_try_behaves_the_same(model, path, hidden_ok):
    before, after, _fixed = _pair("dispatch_in_try")
    assert _save(after, model, path, hidden_ok) == _save(before, model, path, hidden_ok)


def test_dispatch_in_try_keeps_the_match_inside_the_try_and_the_docstring():
    _before, after, fixed = _pair("dispatch_in_try")
    save = fixed[fixed.index("    def save("):fixed.index("    def _check_model(")]
    assert save.index("try:") < save.index('match model["type"]:') < save.index("except StoreError:")
    assert after["Store"].save.__doc__ == "Save the model at ``path`` and return it without its content."
    # the multi-statement branch has a handler; the one-line branches already are calls
    assert "_handle_notebook" in _helpers(fixed) and "_handle_file" not in _helpers(fixed)
    assert "def _handle_notebook(self, model: dict[str, Any], path: str) -> None:" in fixed
    assert not any(name.startswith("__") and not name.endswith("__") for name in _helpers(fixed))  # no mangling


def test_before_310_the_chain_stays_an_if_elif_of_calls():
    source = (FIXTURES / "dispatch_in_try.py").read_text()
    fixed = fix_source(source, ["WS301"], target="py39")
    assert "match " not in fixed and "_handle_notebook(model, path)" in fixed
    assert 'elif model["type"] == "file":' in fixed
    before, after = _load(source, "before"), _load(fixed, "after")
    for model, path in MODELS:
        assert _save(after, model, path, False) == _save(before, model, path, False)


# -- enum members, a guard, ``continue`` -----------------------------------------------------


def _inboxes(ns: dict[str, Any]) -> list[list[Any]]:
    kind, message = ns["Kind"], ns["Message"]

    class Other(enum.Enum):
        PING = "ping"

    return [
        [],
        [message(kind.JOIN, "a", {"name": "Ann"}), message(kind.JOIN, "b", {"name": "Ann"})],  # continue
        [message(kind.SAY, "a", {"text": "hi"})],  # not joined: continue
        [
            message(kind.JOIN, "a", {"name": "Ann"}), message(kind.JOIN, "b", {"name": "Bob"}),
            message(kind.SAY, "a", {"text": "hi"}), message(kind.JOIN, "a", {"name": "Again"}),  # guard false
            message(kind.MOVE, "b", {"to": "north"}), message(kind.MOVE, "b", {"to": "up"}),  # continue
            message(Other.PING, "a", {}),  # unknown kind: the else branch
        ],
        [message(kind.JOIN, "c", {"name": " "}), message(kind.MOVE, "c", {})],
    ]


def _process(ns: dict[str, Any], case: int) -> Any:
    world = ns["World"]()
    handled = world.process(_inboxes(ns)[case])
    return handled, world.players, world.sent


@pytest.mark.parametrize("case", range(5))
def test_loop_dispatch_with_continue_behaves_the_same(case):
    before, after, _fixed = _pair("dispatch_loop_continue")
    assert _process(after, case) == _process(before, case)


def test_loop_dispatch_handlers_return_true_where_the_branch_continued():
    _before, _after, fixed = _pair("dispatch_loop_continue")
    assert {"_handle_join", "_handle_say", "_handle_move"} <= _helpers(fixed)
    assert "case Kind.JOIN if not joined:" in fixed
    assert "if self._handle_say(msg, joined):\n                        continue" in fixed
    assert "def _handle_say(self, msg: Message, joined: bool) -> bool:" in fixed
    handler = fixed[fixed.index("def _handle_say("):fixed.index("def _handle_move(")]
    assert "return True" in handler and handler.rstrip().endswith("return False")
    assert "            continue" in handler  # the inner loop's own ``continue`` stays


IDENTITY = """
    import enum


    class Kind(enum.Enum):
        A = 1
        B = 2


    def run(items, out):
        for kind, value in items:
            if kind is Kind.A:
                if value is None:
                    out.append("none")
                    continue
                if value > 10:
                    value = 10
                out.append(value * 2)
            elif kind is Kind.B:
                if value:
                    out.append(-value)
                elif value is None:
                    out.append(None)
                else:
                    out.append(0)
            else:
                out.append("?")
            out.append("done")
        return out
"""


def test_identity_tests_keep_the_chain_as_calls():
    """``kind is Kind.A`` has no ``match`` pattern (patterns compare with ``==``)."""
    source = textwrap.dedent(IDENTITY)
    fixed = fix_source(source, ["WS301"], {"WS301": {"max-cc": 5}})
    assert "match " not in fixed
    assert "if kind is Kind.A:\n            if _handle_a(value, out):\n                continue" in fixed
    before, after = _load(source, "before"), _load(fixed, "after")
    kind = before["Kind"]
    items = [(kind.A, 3), (kind.A, None), (kind.A, 20), (kind.B, 0), (kind.B, 5), (kind.B, None), ("x", 1)]
    after_items = [(after["Kind"][k.name] if isinstance(k, kind) else k, v) for k, v in items]
    assert after["run"](after_items, []) == before["run"](items, [])


REFUSED = """
    def drain(items, out):
        last = None
        for kind, value in items:
            if kind == "a":
                last = value
                if value is None:
                    continue
                out.append(value)
            elif kind == "b":
                if value:
                    out.append(-value)
                    continue
                out.append(0)
            elif kind == "c":
                if value:
                    break
                out.append(1)
            out.append(last)
        return out
"""


def test_continue_with_a_value_read_later_and_break_are_refused_with_the_reason():
    source = textwrap.dedent(REFUSED)
    findings = check_source(source, ["WS301"], {"WS301": {"max-cc": 4}})
    assert findings, "expected a WS301 finding"
    description = findings[0].fix.description if findings[0].fix else findings[0].message
    assert "continue in a branch that assigns values read later" in description or (
        "break out of an enclosing loop" in description
    ), description
    fixed = fix_source(source, ["WS301"], {"WS301": {"max-cc": 4}})
    assert fixed == source  # no partial plan: the function would stay over the limit


def test_a_guard_with_a_call_before_the_comparison_is_no_dispatch():
    """``ready() and kind == "a"``: ``match`` would compare before calling ``ready()``."""
    source = textwrap.dedent("""
        def handle(kind, ready, out):
            if ready() and kind == "a":
                if out:
                    out.append(1)
                out.append("a")
            elif kind == "b":
                if out:
                    out.append(2)
                out.append("b")
            elif kind == "c":
                if out:
                    out.append(3)
                out.append("c")
            return out
    """)
    fixed = fix_source(source, ["WS301"], {"WS301": {"max-cc": 4}})
    assert "match " not in fixed and "case " not in fixed


def test_a_guard_after_the_comparison_becomes_the_case_guard():
    source = textwrap.dedent("""
        def handle(kind, ready, out):
            if kind == "a" and ready():
                if out:
                    out.append(1)
                out.append("a")
            elif kind == "b":
                if out:
                    out.append(2)
                out.append("b")
            return out
    """)
    fixed = fix_source(source, ["WS301"], {"WS301": {"max-cc": 3}})
    assert 'case "a" if ready():' in fixed, fixed
    before, after = _load(source, "before"), _load(fixed, "after")
    for kind in ("a", "b", "z"):
        for ready in (True, False):
            for out in ([], [0]):
                calls: list[int] = []

                def probe(r: bool = ready, c: list[int] = calls) -> bool:
                    c.append(1)
                    return r

                expected_calls: list[int] = []

                def probe_before(r: bool = ready, c: list[int] = expected_calls) -> bool:
                    c.append(1)
                    return r

                assert after["handle"](kind, probe, list(out)) == before["handle"](kind, probe_before, list(out))
                assert calls == expected_calls  # ``ready()`` runs exactly when it did


def test_second_fix_of_the_dispatch_fixtures_changes_nothing():
    for case in ("dispatch_in_try", "dispatch_loop_continue"):
        fixed = (FIXTURES / f"{case}.fixed.py").read_text()
        assert fix_source(fixed, ["WS301", "WS302"]) == fixed


def test_a_loop_target_read_by_an_outer_loop_still_flows_out():
    """``value`` rebound in a branch is read again by the outer loop after the inner ``for``
    ended: the handler must not take it (the inner loop's target does not rebind it there)."""
    source = textwrap.dedent("""
        def run(batches, out):
            value = 0
            for items in batches:
                out.append(value)
                for kind, value in items:
                    if kind == "a":
                        if value > 10:
                            value = 10
                        if value < 0:
                            value = 0
                    elif kind == "b":
                        if value:
                            out.append(-value)
                        else:
                            out.append(0)
                    out.append(kind)
            return out
    """)
    fixed = fix_source(source, ["WS301"], {"WS301": {"max-cc": 6}})
    before, after = _load(source, "before"), _load(fixed, "after")
    batches = [[("a", 20), ("b", 3)], [("a", -5)], [], [("b", 0), ("a", 4)]]
    assert after["run"](batches, []) == before["run"](batches, [])
    assert "value = _handle_a(value)" in fixed, fixed


def test_decorators_and_docstring_stay_on_the_dispatching_function():
    source = textwrap.dedent('''
        CALLS = []


        def trace(func):
            def wrapper(*args):
                CALLS.append(func.__name__)
                return func(*args)
            wrapper.__doc__ = func.__doc__
            return wrapper


        @trace
        def handle(kind: str, out: list[str]) -> list[str]:
            """Apply one message."""
            if kind == "a":
                if out:
                    out.append("a1")
                out.append("a")
            elif kind == "b":
                if out:
                    out.append("b1")
                out.append("b")
            elif kind == "c":
                if out:
                    out.append("c1")
                out.append("c")
            return out
    ''')
    fixed = fix_source(source, ["WS301"], {"WS301": {"max-cc": 4}})
    assert "@trace\ndef handle(kind: str, out: list[str]) -> list[str]:\n    \"\"\"Apply one message.\"\"\"" in fixed
    assert "def _handle_a(out: list[str]) -> None:" in fixed and "@trace\ndef _handle" not in fixed
    before, after = _load(source, "before"), _load(fixed, "after")
    for kind in "abcz":
        for out in ([], ["x"]):
            assert after["handle"](kind, list(out)) == before["handle"](kind, list(out))
    assert after["handle"].__doc__ == "Apply one message."
    assert after["CALLS"] == before["CALLS"]


def test_a_name_the_loop_rebinds_before_the_dispatch_is_no_output_of_a_branch():
    """websocket-mud's shape: ``player`` is looked up at the top of each iteration, a branch
    registers it; the dispatch test reads it only in the next iteration, after the lookup."""
    source = textwrap.dedent("""
        def pump(queue, registry, out):
            while queue:
                kind, who = queue.pop(0)
                player = registry.get(who)
                if not player and kind == "new":
                    player = who.upper()
                    if player in registry.values():
                        out.append("taken")
                        continue
                    registry[who] = player
                    out.append("welcome " + player)
                elif kind == "msg":
                    if not player:
                        out.append("who?")
                        continue
                    if len(out) > 5:
                        out.clear()
                    out.append(player + " says hi")
                out.append("ack")
            return out
    """)
    fixed = fix_source(source, ["WS301"], {"WS301": {"max-cc": 6}})
    assert 'case "new" if not player:\n                if _handle_new(who, registry, out):' in fixed, fixed
    assert "player = _handle" not in fixed  # no value flows out of a branch
    before, after = _load(source, "before"), _load(fixed, "after")
    queues = [
        [("new", "a"), ("msg", "a"), ("msg", "b"), ("new", "a"), ("new", "b"), ("x", "a")],
        [("msg", "z")] * 7 + [("new", "z"), ("msg", "z")],
        [("new", "A"), ("new", "a")],
    ]
    for queue in queues:
        assert after["pump"](list(queue), {}, []) == before["pump"](list(queue), {}, [])
