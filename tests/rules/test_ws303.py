"""WS303 duplicated-event-serialization: issue snippets, output paths agree, no libcst in a plain check.

Single files and small packages are run through the whole CLI path (``run_project`` from
``tests/test_project_rules.py``: workers, facts, project phase, payloads).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.test_project_rules import (
    _libcst_refused,
    findings_of,
    read_tree,
    run_project,
    write_tree,
)

SERIALIZE = '    return {{"id": {v}.id, "room": {v}.room, "at": {v}.at.isoformat()}}\n'


def _copy(name: str, var: str) -> str:
    return f"def {name}({var}):\n" + SERIALIZE.format(v=var)


# ------------------------------------------------------------------------------------------------
# issue #12, false alarm 5: constant lookup tables are not event serialization
# ------------------------------------------------------------------------------------------------

LOOKUP_TABLES = {
    "module_class": """
        import enum

        class ProxyType(enum.Enum):
            SOCKS5 = 1
            SOCKS4 = 2
            HTTP = 3

        def parse(scheme):
            return {"socks5": ProxyType.SOCKS5, "socks4": ProxyType.SOCKS4, "http": ProxyType.HTTP}[scheme]

        def choices():
            return {"socks5": ProxyType.SOCKS5, "socks4": ProxyType.SOCKS4, "http": ProxyType.HTTP}
    """,
    "import_inside_function": """
        def parse(scheme):
            from socks import ProxyType
            return {"socks5": ProxyType.socks5, "socks4": ProxyType.socks4, "http": ProxyType.http}[scheme]

        def choices():
            from socks import ProxyType
            return {"socks5": ProxyType.socks5, "socks4": ProxyType.socks4, "http": ProxyType.http}
    """,
    "local_enum_call": """
        import enum

        def one():
            Kind = enum.Enum("Kind", "a b c")
            return {"a": Kind.a, "b": Kind.b, "c": Kind.c}

        def two():
            Kind = enum.Enum("Kind", "a b c")
            return {"a": Kind.a, "b": Kind.b, "c": Kind.c}
    """,
    "local_class": """
        def one():
            class Kind:
                a, b, c = 1, 2, 3
            return {"a": Kind.a, "b": Kind.b, "c": Kind.c}

        def two():
            class Kind:
                a, b, c = 1, 2, 3
            return {"a": Kind.a, "b": Kind.b, "c": Kind.c}
    """,
    "class_attribute_enum": """
        import enum

        class Box:
            Kind = enum.Enum("Kind", "a b c")

            def f(self):
                return {"a": self.Kind.a, "b": self.Kind.b, "c": self.Kind.c}

            def g(self):
                return {"a": self.Kind.a, "b": self.Kind.b, "c": self.Kind.c}
    """,
    "upper_case_members": """
        def f(codes):
            return {"ok": codes.OK, "gone": codes.GONE, "busy": codes.BUSY}

        def g(status):
            return {"ok": status.OK, "gone": status.GONE, "busy": status.BUSY}
    """,
    "literals": """
        def f():
            return {"ok": 1, "gone": "x", "busy": None}

        def g():
            return {"ok": 1, "gone": "x", "busy": None}
    """,
}


@pytest.mark.parametrize("name", sorted(LOOKUP_TABLES))
def test_lookup_tables_are_not_serialization(tmp_path, name):
    write_tree(tmp_path, {"tables.py": textwrap.dedent(LOOKUP_TABLES[name]).lstrip()})
    run = run_project(tmp_path, ["WS303"])
    assert findings_of(run, "WS303", tmp_path) == []


def test_object_serialization_still_found(tmp_path):
    write_tree(tmp_path, {"events.py": _copy("send", "event") + "\n\n" + _copy("remember", "evt")})
    run = run_project(tmp_path, ["WS303"])
    assert findings_of(run, "WS303", tmp_path) == [("events.py", 2), ("events.py", 6)]


def test_a_lookup_table_no_longer_pairs_with_a_real_copy(tmp_path):
    """The local enum's table had the same shape as the object's dict: neither is reported."""
    text = textwrap.dedent("""
        import enum

        def kinds():
            Kind = enum.Enum("Kind", "a b c")
            return {"a": Kind.a, "b": Kind.b, "c": Kind.c}

        def row(kind):
            return {"a": kind.a, "b": kind.b, "c": kind.c}
    """).lstrip()
    write_tree(tmp_path, {"m.py": text})
    assert findings_of(run_project(tmp_path, ["WS303"]), "WS303", tmp_path) == []


# ------------------------------------------------------------------------------------------------
# issue #14 item 6: never add an import between modules that did not import each other
# ------------------------------------------------------------------------------------------------


def test_fix_adds_no_import_between_unrelated_modules(tmp_path):
    files = {
        "chat/__init__.py": "",
        "chat/sync_client.py": _copy("send", "event") + "\n\n" + _copy("log", "event"),
        "chat/async_client.py": "async " + _copy("send", "message"),
    }
    write_tree(tmp_path, files)
    run = run_project(tmp_path, ["WS303"], fix=True)
    assert run.messages == []
    tree = read_tree(tmp_path)
    assert "serialize_event" in tree["chat/serializers.py"]
    assert "async_client" not in tree["chat/sync_client.py"] and "sync_client" not in tree["chat/async_client.py"]
    assert "from chat.serializers import serialize_event" in tree["chat/sync_client.py"]
    assert "from chat.serializers import serialize_event" in tree["chat/async_client.py"]


def test_fix_uses_a_module_every_copy_already_imports(tmp_path):
    files = {
        "chat/__init__.py": "",
        "chat/events.py": _copy("send", "event") + "\n\n" + _copy("log", "event"),
        "chat/history.py": "from chat import events\n\n\n" + _copy("store", "item"),
    }
    write_tree(tmp_path, files)
    assert run_project(tmp_path, ["WS303"], fix=True).messages == []
    tree = read_tree(tmp_path)
    assert "chat/serializers.py" not in tree
    assert "def serialize_event(" in tree["chat/events.py"]
    assert "from chat.events import serialize_event" in tree["chat/history.py"]


def test_fix_replaces_parenthesised_and_nested_copies_by_span(tmp_path):
    text = (
        "def a(e):\n    return ({\"id\": e.id, \"room\": e.room, \"at\": e.at})\n\n\n"
        "def b(e):\n    return [{\"id\": e.id, \"room\": e.room, \"at\": e.at}, {\"id\": e.id, \"room\": e.room, \"at\": e.at}]\n"
    )
    write_tree(tmp_path, {"m.py": text})
    assert run_project(tmp_path, ["WS303"], fix=True).messages == []
    fixed = read_tree(tmp_path)["m.py"]
    assert "return (serialize_e(e))" in fixed
    assert "return [serialize_e(e), serialize_e(e)]" in fixed
    assert findings_of(run_project(tmp_path, ["WS303"]), "WS303", tmp_path) == []


# ------------------------------------------------------------------------------------------------
# one decision path: text and JSON agree; a plain check never parses libcst
# ------------------------------------------------------------------------------------------------


def _cli(root, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "wsrefactor", "check", "--select", "WS303", "--no-cache", *args, "."],
        cwd=root, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


def test_text_and_json_with_fixes_agree(tmp_path):
    write_tree(tmp_path, {"a.py": _copy("send", "event"), "b.py": _copy("store", "item") + "\n\n" + _copy("x", "y")})
    text = _cli(tmp_path)
    data = json.loads(_cli(tmp_path, "--format", "json", "--show-fixes"))
    from_text = sorted(line.split(" WS303 ")[0].rstrip(":") for line in text.splitlines() if " WS303 " in line)
    from_json = sorted(f"{f['filename']}:{f['line']}:{f['column']}" for f in data)
    assert from_text == from_json and len(from_text) == 3
    assert "3 more with `wsrefactor fix --unsafe-fixes`" in text
    assert all(f.get("fix") for f in data)


def test_plain_check_never_parses_libcst(tmp_path):
    write_tree(tmp_path, {"a.py": _copy("send", "event"), "b.py": _copy("store", "item")})
    with _libcst_refused():
        run = run_project(tmp_path, ["WS303"])
        assert run.messages == []
        assert findings_of(run, "WS303", tmp_path) == [("a.py", 2), ("b.py", 2)]
        # the spy does catch the path that needs libcst (applying the fix)
        try:
            caught = any("libcst parsed" in m for m in run_project(tmp_path, ["WS303"], fix=True).messages)
        except AssertionError as exc:
            caught = "libcst parsed" in str(exc)
    assert caught


def test_two_groups_share_one_new_module_with_distinct_helpers(tmp_path):
    """Found on pymilvus (sync and async clients, insert and upsert results): both groups went to
    one new serializers.py under the same name, so upsert called the insert serializer."""
    insert = '    return {"count": res.insert_count, "ids": res.ids, "cost": res.cost}\n'
    upsert = '    return {"count": res.upsert_count, "cost": res.cost, "ids": res.ids}\n'
    body = "def insert(res):\n" + insert + "\n\ndef upsert(res):\n" + upsert
    files = {"client/__init__.py": "", "client/sync.py": body, "client/aio.py": body.replace("def ", "async def ")}
    write_tree(tmp_path / "before", files)
    write_tree(tmp_path / "after", files)
    run = run_project(tmp_path / "after", ["WS303"], fix=True)
    assert run.messages == []
    tree = read_tree(tmp_path / "after")
    helpers = tree["client/serializers.py"]
    assert helpers.count("def serialize_res(") == 1 and helpers.count("def serialize_res_2(") == 1

    class Res:
        insert_count, upsert_count, ids, cost = 1, 2, [3], 0.5

    import asyncio
    import importlib

    from tests.test_project_rules import _imported

    results = []
    for variant in ("before", "after"):
        with _imported(tmp_path / variant, "client"):
            sync = importlib.import_module("client.sync")
            aio = importlib.import_module("client.aio")
            results.append((sync.insert(Res), sync.upsert(Res), asyncio.run(aio.insert(Res)), asyncio.run(aio.upsert(Res))))
    assert results[0] == results[1]
    assert results[1][1] == {"count": 2, "cost": 0.5, "ids": [3]}


@pytest.mark.parametrize("value", [
    "msg.kind", "msg.a + msg.b", "f(msg.x, y=msg.y)", "msg .x", "(msg).x", "x.msg.y", "msg", "f'{msg.x}'",
    "F'{msg}'", "'msg.x'", "rb'msg'", "[m.x for m in msg.items]", "msg.x if msg.y else None", "str(msg.id)",
    "msg.d['k']", "{'a': msg.a}", "msg.items[msg.i].name",
])
def test_renaming_on_tokens_gives_the_libcst_text_or_leaves_it_to_libcst(value):
    """A plain check renames on tokens so it never imports libcst; where the tokens cannot tell
    (a parenthesized or bare name, an f-string), it says so and libcst renames."""
    import libcst as cst

    from wsrefactor.rules.ws303_duplicated_serialization import (
        _renamed_on_tokens,
        _renamer,
        rename,
    )

    by_libcst = cst.Module(body=[]).code_for_node(cst.parse_expression(value).visit(_renamer("msg", "event"))).strip()
    on_tokens = _renamed_on_tokens(value, "msg", "event")
    assert on_tokens in (None, by_libcst)
    assert rename(value, "msg", "event") == by_libcst
    if value in ("msg.kind", "msg.a + msg.b", "msg .x", "x.msg.y", "'msg.x'"):
        assert on_tokens == by_libcst  # the common shapes never need libcst
