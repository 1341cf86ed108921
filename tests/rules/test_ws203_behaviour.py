"""WS203 fixes change behaviour on purpose: run a connection manager before and after the fix.

Fake connections record how many sends are in flight at once. Before the fix a broadcast sends
to one connection at a time; after it, to all of them at once, and every connection still gets
the message. The counting and the try/except shapes keep their counts and their handlers.
"""

from __future__ import annotations

import asyncio
import types

import pytest

from wsrefactor.testing import check_source, fix_source

MANAGER = '''
class Gone(Exception):
    pass


class ConnectionManager:
    def __init__(self):
        self.active_connections = []
        self.failures = 0

    async def broadcast(self, message):
        for connection in self.active_connections:
            await connection.send_text(message)

    async def broadcast_counted(self, message):
        delivered = 0
        for connection in self.active_connections:
            if await connection.send_text(message):
                delivered += 1
        return delivered

    async def broadcast_pruning(self, message):
        dead = []
        failed = 0
        for ws in self.active_connections:
            try:
                await ws.send_text(message)
            except Gone as exc:
                dead.append(ws)
                failed += 1
                self.failures += 1
        for ws in dead:
            self.active_connections.remove(ws)
        return failed

    async def notify_users(self, users, message):
        for user_id, ws in users.items():
            await self.send_personal_message(f"{user_id}: {message}", ws)

    async def send_personal_message(self, message, websocket):
        await websocket.send_text(message)
'''

TASKGROUP_MANAGER = '''
async def broadcast(connections, message):
    for ws in connections:
        await ws.send_text(message)
'''


class Meter:
    """Counts sends in flight across every fake connection."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0


class FakeSocket:
    def __init__(self, meter: Meter, name: str, fails: bool = False) -> None:
        self.meter = meter
        self.name = name
        self.fails = fails
        self.received: list[str] = []

    async def send_text(self, message: str) -> bool:
        self.meter.now += 1
        self.meter.peak = max(self.meter.peak, self.meter.now)
        try:
            await asyncio.sleep(0.01)
            if self.fails:
                raise self.error(self.name)
            self.received.append(message)
            return True
        finally:
            self.meter.now -= 1

    error: type[Exception] = RuntimeError


def load(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - the test's own code
    return module


@pytest.fixture(scope="module")
def versions() -> dict[str, types.ModuleType]:
    fixed = fix_source(MANAGER, ["WS203"])
    assert fixed != MANAGER
    assert "asyncio.gather" in fixed and "async def _send_one(ws):" in fixed
    assert [f for f in check_source(fixed, ["WS203"]) if f.fix is not None] == []
    return {"before": load(MANAGER, "manager_before"), "after": load(fixed, "manager_after")}


def sockets(module: types.ModuleType, meter: Meter, n: int, failing: tuple[int, ...] = ()) -> list[FakeSocket]:
    out = []
    for i in range(n):
        sock = FakeSocket(meter, f"c{i}", fails=i in failing)
        sock.error = module.Gone
        out.append(sock)
    return out


def test_every_shape_is_fixed():
    findings = check_source(MANAGER, ["WS203"])
    assert len(findings) == 4
    assert all(f.fix is not None for f in findings)


@pytest.mark.parametrize("version,peak", [("before", 1), ("after", 5)])
def test_broadcast_concurrency(versions, version, peak):
    module = versions[version]
    meter = Meter()
    manager = module.ConnectionManager()
    manager.active_connections = sockets(module, meter, 5)
    asyncio.run(manager.broadcast("hello"))
    assert meter.peak == peak
    assert all(s.received == ["hello"] for s in manager.active_connections)
    assert meter.now == 0


@pytest.mark.parametrize("version,peak", [("before", 1), ("after", 4)])
def test_counted_broadcast_keeps_the_count(versions, version, peak):
    module = versions[version]
    meter = Meter()
    manager = module.ConnectionManager()
    manager.active_connections = sockets(module, meter, 4)

    async def maybe(sock: FakeSocket, message: str, original=FakeSocket.send_text):
        ok = await original(sock, message)
        return ok and sock.name != "c2"  # c2 reports a refused delivery

    for sock in manager.active_connections:
        sock.send_text = types.MethodType(maybe, sock)  # type: ignore[method-assign]
    delivered = asyncio.run(manager.broadcast_counted("hi"))
    assert delivered == 3
    assert meter.peak == peak


@pytest.mark.parametrize("version,peak", [("before", 1), ("after", 6)])
def test_failing_connections_go_through_the_handler(versions, version, peak):
    module = versions[version]
    meter = Meter()
    manager = module.ConnectionManager()
    manager.active_connections = sockets(module, meter, 6, failing=(1, 4))
    healthy = [s for s in manager.active_connections if not s.fails]
    failed = asyncio.run(manager.broadcast_pruning("bye"))
    assert failed == 2  # the handler's `failed += 1` reaches the outer variable (nonlocal)
    assert manager.failures == 2
    assert manager.active_connections == healthy  # dead.append(ws) saw the right connection
    assert all(s.received == ["bye"] for s in healthy)
    assert meter.peak == peak


@pytest.mark.parametrize("version,peak", [("before", 1), ("after", 3)])
def test_tuple_target_sends_to_each_user(versions, version, peak):
    module = versions[version]
    meter = Meter()
    manager = module.ConnectionManager()
    socks = sockets(module, meter, 3)
    users = {f"u{i}": s for i, s in enumerate(socks)}
    asyncio.run(manager.notify_users(users, "ping"))
    assert [s.received for s in socks] == [["u0: ping"], ["u1: ping"], ["u2: ping"]]
    assert meter.peak == peak


def test_a_dict_mutated_during_the_broadcast():
    """The loop reads the live dict across awaits; the gathered form reads it before the first."""
    for version, raises in (("before", True), ("after", False)):
        meter = Meter()
        module = load(MANAGER, "m") if version == "before" else load(fix_source(MANAGER, ["WS203"]), "m")
        manager = module.ConnectionManager()
        users = {f"u{i}": s for i, s in enumerate(sockets(module, meter, 3))}

        async def run() -> None:
            async def join_later() -> None:
                await asyncio.sleep(0.005)
                users["late"] = FakeSocket(meter, "late")  # noqa: B023 - run within this iteration

            joiner = asyncio.create_task(join_later())
            try:
                await manager.notify_users(users, "x")  # noqa: B023 - run within this iteration
            finally:
                await joiner

        if raises:
            with pytest.raises(RuntimeError, match="changed size during iteration"):
                asyncio.run(run())
        else:
            asyncio.run(run())


@pytest.mark.skipif(not hasattr(asyncio, "TaskGroup"), reason="asyncio.TaskGroup needs Python 3.11")
def test_taskgroup_variant():
    fixed = fix_source(TASKGROUP_MANAGER, ["WS203"], {"WS203": {"use-taskgroup": True}}, "py311")
    assert "asyncio.TaskGroup() as tg" in fixed and "tg.create_task(ws.send_text(message))" in fixed
    # Below 3.11 the option falls back to gather.
    older = fix_source(TASKGROUP_MANAGER, ["WS203"], {"WS203": {"use-taskgroup": True}}, "py310")
    assert "asyncio.gather" in older
    module = load(fixed, "tg_manager")
    meter = Meter()
    conns = [FakeSocket(meter, f"c{i}") for i in range(4)]
    asyncio.run(module.broadcast(conns, "m"))
    assert meter.peak == 4
    assert all(c.received == ["m"] for c in conns)

    # One failure cancels the siblings still in flight and surfaces as an ExceptionGroup.
    meter = Meter()
    conns = [FakeSocket(meter, f"c{i}", fails=(i == 0)) for i in range(3)]
    with pytest.raises(ExceptionGroup):  # noqa: F821 - Python 3.11+ (the test is skipped below)
        asyncio.run(module.broadcast(conns, "m"))
    assert meter.now == 0
