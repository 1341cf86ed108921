"""WS304 duplicated-redis-fallback: issue snippets, the fixed methods behave the same, output paths agree."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap

from tests.test_project_rules import (
    _imported,
    _libcst_refused,
    findings_of,
    read_tree,
    run_project,
    write_tree,
)

# issue #12, miss 9: plain assignments between the guard and the ``try``
STORE = '''
import logging


class StoreError(Exception):
    pass


logger = logging.getLogger(__name__)


class Presence:
    def __init__(self, redis=None):
        self.redis = redis
        self.local = {"u1": {"a"}}

    def _local_members(self, u):
        return set(self.local.get(u, ()))

    def _local_count(self, u):
        return len(self.local.get(u, ()))

    def members(self, u):
        """Who is online for u."""
        if not self.redis:
            return self._local_members(u)
        key = f"presence:{u}"
        try:
            return set(self.redis.smembers(key))
        except StoreError as e:
            logger.warning("redis failed: %s", e)
            return self._local_members(u)

    def count(self, u):
        if not self.redis:
            return self._local_count(u)
        key = f"presence:{u}"
        prefix: str = "n:"
        try:
            return self.redis.scard(prefix + key)
        except StoreError as e:
            logger.warning("redis failed: %s", e)
            return self._local_count(u)
'''


def _store_tree(tmp_path):
    write_tree(tmp_path, {"pkg/__init__.py": "", "pkg/store.py": textwrap.dedent(STORE).lstrip()})


def test_assignments_between_guard_and_try_are_the_same_shape(tmp_path):
    _store_tree(tmp_path)
    run = run_project(tmp_path, ["WS304"])
    assert findings_of(run, "WS304", tmp_path) == [("pkg/store.py", 22), ("pkg/store.py", 33)]
    assert all(f.fix is not None for f in run.findings)


def _behaviour(root):
    class Redis:
        def __init__(self, fail):
            self.fail = fail

        def _check(self):
            if self.fail:
                raise store.StoreError("down")

        def smembers(self, key):
            self._check()
            return {key}

        def scard(self, key):
            self._check()
            return len(key)

    out = []
    with _imported(root, "pkg"):
        store = importlib.import_module("pkg.store")
        for redis in (Redis(False), Redis(True), None):
            p = store.Presence(redis)
            out.append((p.members("u1"), p.count("u1"), p.members.__doc__))
    return out


def test_fix_keeps_the_assignments_and_the_behaviour(tmp_path):
    _store_tree(tmp_path / "before")
    _store_tree(tmp_path / "after")
    run = run_project(tmp_path / "after", ["WS304"], fix=True)
    assert run.messages == []
    fixed = read_tree(tmp_path / "after")["pkg/store.py"]
    assert fixed.count("@redis_with_fallback(") == 2 and "except StoreError" not in fixed
    assert 'key = f"presence:{u}"' in fixed and 'prefix: str = "n:"' in fixed
    assert _behaviour(tmp_path / "before") == _behaviour(tmp_path / "after")
    assert findings_of(run_project(tmp_path / "after", ["WS304"]), "WS304", tmp_path / "after") == []


def test_an_awaited_assignment_is_not_the_shape(tmp_path):
    text = textwrap.dedent('''
        class Store:
            async def get(self, key):
                if not self.redis:
                    return self._memory_get(key)
                client = await self.pool.acquire()
                try:
                    return await client.get(key)
                except RedisError:
                    return self._memory_get(key)

            async def members(self, key):
                if not self.redis:
                    return self._memory_members(key)
                client = await self.pool.acquire()
                try:
                    return await client.smembers(key)
                except RedisError:
                    return self._memory_members(key)
    ''').lstrip()
    write_tree(tmp_path, {"store.py": text})
    assert findings_of(run_project(tmp_path, ["WS304"]), "WS304", tmp_path) == []


def test_a_statement_other_than_an_assignment_is_not_the_shape(tmp_path):
    method = '''
        def {name}(self, key):
            if not self.redis:
                return self._memory_{name}(key)
            self.calls += 1
            try:
                return self.redis.{name}(key)
            except RedisError:
                return self._memory_{name}(key)
    '''
    text = "class Store:\n" + textwrap.indent(textwrap.dedent(method.format(name="get")), "    ")
    text += textwrap.indent(textwrap.dedent(method.format(name="members")), "    ")
    write_tree(tmp_path, {"store.py": text})
    assert findings_of(run_project(tmp_path, ["WS304"]), "WS304", tmp_path) == []


def test_plain_check_never_parses_libcst_and_agrees_with_json(tmp_path):
    _store_tree(tmp_path)
    with _libcst_refused():
        run = run_project(tmp_path, ["WS304"])
    assert run.messages == [] and len(findings_of(run, "WS304", tmp_path)) == 2

    def cli(*args):
        done = subprocess.run(
            [sys.executable, "-m", "wsrefactor", "check", "--select", "WS304", "--no-cache", *args, "."],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 1, done.stderr
        return done.stdout

    text = [line.split(" WS304 ")[0].rstrip(":") for line in cli().splitlines() if " WS304 " in line]
    data = json.loads(cli("--format", "json", "--show-fixes"))
    assert sorted(text) == sorted(f"{f['filename']}:{f['line']}:{f['column']}" for f in data)
    assert len(text) == 2 and all(f["fix"] for f in data)
