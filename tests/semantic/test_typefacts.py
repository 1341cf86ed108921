"""``wsrefactor.semantic.typefacts``: the kind of value an expression holds; generator functions."""

from __future__ import annotations

import ast
import textwrap

from wsrefactor.semantic import Analyses, SemanticModel
from wsrefactor.semantic.typefacts import PATH, TypeFacts, is_generator

SOURCE = textwrap.dedent("""
    import asyncio
    import pathlib
    import requests
    from redis import asyncio as aioredis

    ROOT = pathlib.Path(__file__).parent

    class Store:
        def __init__(self, url):
            self.http = requests.sessions.Session()
            self.cache = aioredis.Redis.from_url(url)

        def use(self, p: "pathlib.Path | None", name):
            cfg = ROOT / "x" / name
            with requests.Session() as s:
                got = s
            return p, cfg, got, self.http, self.cache, name, cfg.with_suffix(".y")

    async def offloaded(url):
        conn = await asyncio.to_thread(requests.Session)
        other = await fetch(url)
        return conn, other

    def gen():
        yield 1

    def not_gen():
        def inner():
            yield 1
        return inner
""")


def _types(canonical=lambda n: {"requests.sessions.Session": "requests.Session"}.get(n, n)):
    tree = ast.parse(SOURCE)
    model = Analyses(tree, SOURCE)(SemanticModel)
    use = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "use")
    ret = use.body[-1]
    facts = TypeFacts(model, canonical)
    return [facts.value_type(e, model.scope_of(e)) for e in ret.value.elts], tree


def test_value_types_from_annotation_constructor_with_attribute_and_path_arithmetic():
    types, _ = _types()
    assert types == [
        "pathlib.Path",  # annotation, Optional read as the class
        PATH,  # module Path joined with "/"
        "requests.Session",  # with ... as s, copied once
        "requests.Session",  # self.http set in __init__, folded to its canonical name
        "redis.asyncio.Redis.from_url",  # the asyncio client stays distinct
        None,  # an unannotated parameter: unknown
        "pathlib.Path.with_suffix",  # a method on a known type: <type>.<method>
    ]


def test_generator_functions():
    _, tree = _types()
    defs = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    assert is_generator(defs["gen"]) and is_generator(defs["inner"])
    assert not is_generator(defs["not_gen"]) and not is_generator(defs["use"])


def test_a_factory_run_in_a_thread_gives_its_type():
    tree = ast.parse(SOURCE)
    model = Analyses(tree, SOURCE)(SemanticModel)
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.AsyncFunctionDef))
    ret = fn.body[-1].value
    facts = TypeFacts(model)
    assert [facts.value_type(e, model.scope_of(e)) for e in ret.elts] == ["requests.Session", None]
