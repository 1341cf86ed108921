"""WS201 blocking-call-in-async on the semantic model: issue snippets, the catalogue, fix safety.

Each catalogue entry is checked through the public path (``check_source``/``fix_source``): found
where the value is of the blocking kind (by constructor, annotation, ``with``, ``self.attr``),
silent where only a name looks like one, and fixed with the safety the catalogue declares.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.rules._semantic_paths import no_libcst
from wsrefactor.cli import explain_text
from wsrefactor.config import Config
from wsrefactor.data.blocking import FUNCTIONS, OBJECTS
from wsrefactor.model import FixSafety
from wsrefactor.registry import load_rules
from wsrefactor.rule import fix_label
from wsrefactor.runner import Job, process_file
from wsrefactor.selection import Selection
from wsrefactor.testing import check_source, fix_source

RULE = load_rules(())["WS201"]


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def _found(text: str, options=None) -> list[tuple[int, str]]:
    opts = {"WS201": options} if options else None
    return [(f.line, f.message) for f in check_source(_src(text), ["WS201"], opts)]


def _job(want_edits: bool = False) -> Job:
    return Job(Config(), Selection(("WS201",), (), tuple(load_rules(()))), want_edits=want_edits)


def _check_file(tmp_path: Path, text: str, want_edits: bool = False):
    path = tmp_path / "case.py"
    path.write_text(_src(text), encoding="utf-8")
    result = process_file(str(path), _job(want_edits))
    assert result.internal_error is None
    return result.findings


# -- issue #12 false alarm 4 and issue #14 item 7 ----------------------------------------------

def test_streaming_response_of_a_sync_generator_is_not_a_blocking_call():
    assert _found("""
        import time
        from fastapi.responses import StreamingResponse

        def gen():
            for i in range(3):
                time.sleep(1)
                yield str(i)

        async def stream():
            return StreamingResponse(gen())
    """) == []


def test_a_sync_generator_iterated_in_async_code_runs_there():
    found = _found("""
        import time

        def gen():
            time.sleep(1)
            yield 1

        async def handler(ws):
            for item in gen():
                await ws.send(item)
            return list(gen())
    """)
    assert found == [
        (8, "blocking call time.sleep via gen() in async function"),
        (10, "blocking call time.sleep via gen() in async function"),
    ]


def test_popen_returns_at_once_and_wait_gets_to_thread():
    source = """
        import subprocess
        from subprocess import Popen

        async def deploy(cmd):
            proc = Popen(cmd, shell=True)
            proc.wait()
            out, err = proc.communicate()
            return out
    """
    assert _found(source) == [
        (6, "blocking call subprocess.Popen.wait in async function"),
        (7, "blocking call subprocess.Popen.communicate in async function"),
    ]
    fixed = fix_source(_src(source), ["WS201"])
    assert "Popen(cmd, shell=True)\n" in fixed
    assert "await asyncio.to_thread(proc.wait)" in fixed
    assert "await asyncio.to_thread(proc.communicate)" in fixed
    # only the wait is safe: communicate reads pipes other tasks may read too
    safe = fix_source(_src(source), ["WS201"], unsafe=False)
    assert "await asyncio.to_thread(proc.wait)" in safe and "await asyncio.to_thread(proc.communicate)" not in safe


def test_sync_redis_in_a_websockets_handler():
    # the accuracy corpus miss: a synchronous redis.Redis polled inside the async handler
    assert _found("""
        import redis
        import websockets

        r = redis.Redis(host="localhost")

        async def handler(websocket):
            while True:
                value = r.get("key")
                await websocket.send(value)
    """) == [(8, "blocking call redis.Redis.get in async function")]


# -- the catalogue --------------------------------------------------------------------------------

CATALOGUE = {
    "websocket-client": ("""
        import websocket

        async def relay(url):
            ws = websocket.create_connection(url)
            ws.send("hi")
            return ws.recv()
    """, [(4, "websocket.create_connection", "safe"), (5, "websocket.WebSocket.send", "unsafe"),
          (6, "websocket.WebSocket.recv", "unsafe")]),
    "websockets sync client": ("""
        from websockets.sync.client import connect

        async def relay(url):
            conn = connect(url)
            conn.send("hi")
            with connect(url) as other:
                return other.recv()
    """, [(4, "websockets.sync.client.connect", "safe"),
          (5, "websockets.sync.client.ClientConnection.send", "unsafe"),
          (6, "websockets.sync.client.connect", None),
          (7, "websockets.sync.client.ClientConnection.recv", "unsafe")]),
    "smtplib": ("""
        import smtplib

        async def mail(msg):
            server = smtplib.SMTP_SSL("smtp.example.com", 465)
            server.login("u", "p")
            server.send_message(msg)
            lazy = smtplib.SMTP()
            lazy.set_debuglevel(1)
    """, [(4, "smtplib.SMTP_SSL", "safe"), (5, "smtplib.SMTP.login", "unsafe"),
          (6, "smtplib.SMTP.send_message", "unsafe")]),
    "pywebpush": ("""
        from pywebpush import webpush

        async def push(sub, data):
            webpush(subscription_info=sub, data=data)
    """, [(4, "pywebpush.webpush", "safe")]),
    "socket": ("""
        import socket

        async def ping(host):
            sock = socket.create_connection((host, 80))
            sock.sendall(b"x")
            return sock.recv(10)
    """, [(4, "socket.create_connection", "safe"), (5, "socket.socket.sendall", "unsafe"),
          (6, "socket.socket.recv", "unsafe")]),
    "psycopg2": ("""
        import psycopg2

        async def rows(dsn):
            conn = psycopg2.connect(dsn)
            cur = conn.cursor()
            cur.execute("select 1")
            return cur.fetchall()
    """, [(4, "psycopg2.connect", "safe"), (6, "psycopg2.extensions.cursor.execute", "unsafe"),
          (7, "psycopg2.extensions.cursor.fetchall", "unsafe")]),
    "redis through an annotation, a factory and self.attr": ("""
        import redis
        from redis import Redis

        class Cache:
            def __init__(self, url):
                self.client = redis.Redis.from_url(url)

            async def get(self, key, other: Redis):
                pipe = self.client.pipeline()
                other.set(key, 1)
                return self.client.get(key)
    """, [(10, "redis.Redis.set", "safe"), (11, "redis.Redis.get", "safe")]),
    "boto3": ("""
        import boto3

        async def upload(data):
            s3 = boto3.client("s3")
            pages = s3.get_paginator("list_objects")
            s3.put_object(Bucket="b", Key="k", Body=data)
    """, [(6, "botocore.client.BaseClient.put_object", "safe")]),
    "requests.Session through with": ("""
        import requests

        async def fetch(url):
            with requests.Session() as s:
                return s.get(url)
    """, [(5, "requests.Session.get", "unsafe")]),
    "pathlib arithmetic": ("""
        from pathlib import Path

        async def read(root):
            cfg = Path(root).parent / "x.toml"
            return cfg.with_suffix(".json").read_text()
    """, [(5, "pathlib.Path.read_text", "safe")]),
}


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_catalogue_entry_found_with_its_fix_safety(tmp_path, name):
    source, expected = CATALOGUE[name]
    findings = _check_file(tmp_path, source)
    got = [(f.line, f.message, f.fix.safety.value if f.fix else None) for f in findings]
    want = [
        (line, f"blocking call {shown} in async function"
         + ("" if safety or "connect" not in shown else " (used as a context manager: no automatic fix)"),
         safety)
        for line, shown, safety in expected
    ]
    assert got == want
    # the fix path builds exactly the fixes the plain check promised, with the same safety
    edits = _check_file(tmp_path, source, want_edits=True)
    assert [(f.line, f.message, f.fix.safety.value if f.fix else None) for f in edits] == want
    assert all(f.fix.edits for f in edits if f.fix)


def test_names_alone_decide_nothing():
    assert _found("""
        import redis.asyncio as aioredis
        import httpx, boto3, smtplib

        async def handler(redis, smtp, client: httpx.AsyncClient, conn):
            redis.get("k")          # a parameter called redis: unknown kind
            smtp.sendmail("a", "b", "c")
            cache = aioredis.Redis()
            await cache.get("k")
            await client.get("u")
            conn.recv()
    """) == []


def test_async_redis_and_awaited_calls_are_not_blocking():
    assert _found("""
        from redis.asyncio import Redis

        async def handler(url):
            r = Redis.from_url(url)
            return await r.get("k")
    """) == []


def test_extra_blocking_calls_get_an_unsafe_to_thread(tmp_path):
    source = """
        import mylib.db

        async def handler():
            return mylib.db.query("select 1")
    """
    assert _found(source, {"extra-blocking-calls": ["mylib.db.query"]}) == [
        (4, "blocking call mylib.db.query in async function")
    ]
    fixed = fix_source(_src(source), ["WS201"], {"WS201": {"extra-blocking-calls": ["mylib.db.query"]}}, unsafe=False)
    assert fixed == _src(source)


def test_catalogue_is_data_with_a_reason_and_a_fix_kind():
    for entry in FUNCTIONS:
        assert entry.names and entry.why and entry.fix in ("sleep", "to_thread", "none")
    kinds = [obj.kind for obj in OBJECTS]
    assert len(kinds) == len(set(kinds))
    for obj in OBJECTS:
        assert obj.sources and obj.methods and obj.why and obj.fix in ("to_thread", "none")
    sources = [s for obj in OBJECTS for s in obj.sources]
    assert len(sources) == len(set(sources)), "a qualified name belongs to one kind"


# -- fix safety, reported honestly ----------------------------------------------------------------

def test_plain_check_reports_each_fix_safety(tmp_path):
    source = """
        import time, requests

        async def feed(url):
            time.sleep(1)
            s = requests.Session()
            s.get(url)
            return requests.get(url)
    """
    plain = [(f.line, f.fix.safety) for f in _check_file(tmp_path, source)]
    assert plain == [(4, FixSafety.SAFE), (6, FixSafety.UNSAFE), (7, FixSafety.SAFE)]
    # a plain ``fix`` applies the safe ones only
    assert fix_source(_src(source), ["WS201"], unsafe=False) == _src("""
        import asyncio
        import requests

        async def feed(url):
            await asyncio.sleep(1)
            s = requests.Session()
            s.get(url)
            return await asyncio.to_thread(requests.get, url)
    """)


def test_rules_and_explain_say_mixed():
    assert fix_label(RULE) == "mixed"
    assert "fix: mixed" in explain_text("WS201")


# -- one decision path ----------------------------------------------------------------------------

SAMPLES = [source for source, _ in CATALOGUE.values()] + [
    """
    import time, json

    def _read(path):
        with open(path) as f:
            return json.load(f)

    def load_config():
        return _read("config.json")

    class Store:
        def __init__(self):
            time.sleep(0)

    async def handler(ws):
        cfg = load_config()
        Store()
        total = sum(open(p).read().count("x") for p in cfg)
        await ws.send_json(cfg)
    """,
]


def _key(findings):
    return [(f.code, f.line, f.column, f.end_line, f.end_column, f.message, f.stmt_line, f.context,
             None if f.fix is None else f.fix.safety) for f in findings]


def test_plain_check_equals_the_edits_path(tmp_path):
    for source in SAMPLES:
        plain = _check_file(tmp_path, source)
        edits = _check_file(tmp_path, source, want_edits=True)
        assert plain and _key(plain) == _key(edits)


def test_helper_chain_and_constructor_and_genexp(tmp_path):
    found = [(f.line, f.message, f.fix is not None) for f in _check_file(tmp_path, SAMPLES[-1])]
    assert found == [
        (15, "blocking call open via load_config() -> _read() in async function", False),
        (16, "blocking call time.sleep via Store() in async function", False),
        (17, "blocking call open in async function", False),  # in a generator expression: no await there
    ]


def test_plain_check_never_parses_libcst(tmp_path, monkeypatch):
    no_libcst(monkeypatch)
    for source in SAMPLES:
        assert _check_file(tmp_path, source)
    path = tmp_path / "case.py"
    assert "libcst parsed" in (process_file(str(path), _job(want_edits=True)).internal_error or "")
