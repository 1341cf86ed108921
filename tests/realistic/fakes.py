"""In-memory test doubles for the realistic ``wsapp`` fixture.

``FakeRedis`` emulates the handful of Redis commands ``wsapp`` uses
(string values, as with ``decode_responses=True``) and can be switched into
a failing mode with ``fake.fail = True``: every command then raises the
``RedisError`` class it was constructed with.  The class is passed in (not
imported) so it is always the one of the freshly imported ``wsapp`` copy.
"""

import copy
import json
import time


class FakeRedis:
    def __init__(self, error_cls, clock=time.time):
        self.error_cls = error_cls
        self.clock = clock
        self.fail = False
        self.calls = []
        self._data = {}
        self._expires = {}

    # -- internals -------------------------------------------------------
    def _enter(self, command, *args):
        self.calls.append((command, args))
        if self.fail:
            raise self.error_cls(f"fake redis is down ({command})")
        now = self.clock()
        for key in [k for k, at in self._expires.items() if at <= now]:
            self._data.pop(key, None)
            self._expires.pop(key, None)

    def _set_of(self, key):
        value = self._data.setdefault(key, set())
        if not isinstance(value, set):
            raise self.error_cls("WRONGTYPE Operation against a key holding the wrong kind of value")
        return value

    def _incr(self, key):
        value = int(self._data.get(key, "0")) + 1
        self._data[key] = str(value)
        return value

    def commands(self):
        return [name for name, _ in self.calls]

    # -- strings ---------------------------------------------------------
    def get(self, key):
        self._enter("get", key)
        value = self._data.get(key)
        if isinstance(value, set):
            raise self.error_cls("WRONGTYPE Operation against a key holding the wrong kind of value")
        return value

    def set(self, key, value, ex=None):
        self._enter("set", key, value, ex)
        self._data[key] = str(value)
        self._expires.pop(key, None)
        if ex is not None:
            self._expires[key] = self.clock() + ex
        return True

    def incr(self, key):
        self._enter("incr", key)
        return self._incr(key)

    def expire(self, key, seconds):
        self._enter("expire", key, seconds)
        if key not in self._data:
            return 0
        self._expires[key] = self.clock() + int(seconds)
        return 1

    def ttl(self, key):
        self._enter("ttl", key)
        if key not in self._data:
            return -2
        if key not in self._expires:
            return -1
        return int(self._expires[key] - self.clock())

    def delete(self, *keys):
        self._enter("delete", *keys)
        removed = 0
        for key in keys:
            if self._data.pop(key, None) is not None:
                removed += 1
            self._expires.pop(key, None)
        return removed

    # -- sets ------------------------------------------------------------
    def sadd(self, key, *members):
        self._enter("sadd", key, *members)
        target = self._set_of(key)
        before = len(target)
        target.update(str(m) for m in members)
        return len(target) - before

    def srem(self, key, *members):
        self._enter("srem", key, *members)
        target = self._set_of(key)
        before = len(target)
        target.difference_update(str(m) for m in members)
        return before - len(target)

    def smembers(self, key):
        self._enter("smembers", key)
        value = self._data.get(key, set())
        if not isinstance(value, set):
            raise self.error_cls("WRONGTYPE Operation against a key holding the wrong kind of value")
        return set(value)

    def sismember(self, key, member):
        self._enter("sismember", key, member)
        value = self._data.get(key, set())
        return int(isinstance(value, set) and str(member) in value)

    # -- scripting -------------------------------------------------------
    def eval(self, script, numkeys, *keys_and_args):
        """Emulate the fixed-window rate limiter script of ``wsapp``.

        KEYS[1] is the counter; ARGV[1] the limit; ARGV[2] the window.
        """
        self._enter("eval", script, numkeys, *keys_and_args)
        if "redis.call(" not in script or "INCR" not in script.upper():
            raise NotImplementedError("FakeRedis.eval only understands the rate limit script")
        keys = keys_and_args[:numkeys]
        argv = [str(a) for a in keys_and_args[numkeys:]]
        if len(keys) != 1 or len(argv) < 2:
            raise self.error_cls("ERR wrong number of arguments for rate limit script")
        current = self._incr(keys[0])
        if current == 1:
            self._expires[keys[0]] = self.clock() + int(argv[1])
        return 0 if current > int(argv[0]) else 1


class FakeWebSocket:
    """Records every frame sent through it."""

    def __init__(self, name="ws"):
        self.name = name
        self.accepted = False
        self.closed = False
        self.close_code = None
        self.close_reason = None
        self.sent = []

    def __repr__(self):
        return f"FakeWebSocket({self.name!r})"

    async def accept(self):
        if self.closed:
            raise RuntimeError("cannot accept a closed websocket")
        self.accepted = True

    async def send_json(self, data):
        if self.closed:
            raise RuntimeError(f"{self.name}: send on closed websocket")
        json.dumps(data)  # must be JSON-serialisable, as with a real socket
        self.sent.append(("json", copy.deepcopy(data)))

    async def send_text(self, data):
        if self.closed:
            raise RuntimeError(f"{self.name}: send on closed websocket")
        self.sent.append(("text", str(data)))

    async def close(self, code=1000, reason=None):
        self.closed = True
        self.close_code = code
        self.close_reason = reason

    @property
    def json_frames(self):
        return [data for kind, data in self.sent if kind == "json"]


class FakeClock:
    """A controllable replacement for ``time.time``."""

    def __init__(self, start=1_700_000_000.0):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds
