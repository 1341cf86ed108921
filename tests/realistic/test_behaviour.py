"""Behaviour of the realistic ``wsapp`` fixture.

These tests must pass unchanged before and after wsrefactor rewrites the
package (see conftest.py for ``WSAPP_ROOT``).  They only use public
behaviour: return values, frames sent, close codes, audit log, state that
is observable through the manager's query methods.
"""

import asyncio
import logging
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

SECRET = "s3cret"
ROOM = "general"


# --------------------------------------------------------------------------
# helpers / fixtures
# --------------------------------------------------------------------------


@pytest.fixture(params=["redis", "no_redis"])
def redis_mode(request):
    return request.param


@pytest.fixture
def manager(wsapp, fake_redis, clock, redis_mode):
    return wsapp.manager.ConnectionManager(
        redis=fake_redis if redis_mode == "redis" else None,
        secret=SECRET,
        clock=clock,
        auth_attempts_per_minute=3,
        private_rooms={"staff-lounge"},
    )


@pytest.fixture
def token_for(wsapp, clock):
    def make(user_id, ttl=3600, secret=SECRET):
        return wsapp.tokens.make_token(secret, user_id, int(clock() + ttl))

    return make


def member_session(**extra):
    session = {"roles": ["member"], "rooms": ["general", "dev-*"], "bans": []}
    session.update(extra)
    return session


def auth(manager, ws, token, room=ROOM, ip="10.0.0.7"):
    return asyncio.run(manager.authenticate(ws, token, room, client_ip=ip))


def last_audit(manager):
    return manager.audit_log[-1]["action"] if manager.audit_log else None


# --------------------------------------------------------------------------
# authentication
# --------------------------------------------------------------------------


def test_package_comes_from_wsapp_root(wsapp):
    default = Path(__file__).resolve().parents[2] / "fixtures" / "realistic"
    root = Path(os.environ.get("WSAPP_ROOT") or default).resolve()
    assert Path(wsapp.__file__).resolve() == root / "wsapp" / "__init__.py"


def test_valid_token_joins_room(manager, make_ws, token_for, clock):
    manager.store_session(42, member_session())
    ws = make_ws()
    result = auth(manager, ws, token_for(42))

    assert result.ok is True
    assert result.reason == "ok"
    assert result.user_id == 42
    assert result.roles == frozenset({"member"})
    assert not ws.closed
    assert ws.json_frames == [
        {"type": "welcome", "room": ROOM, "user_id": "42", "roles": ["member"]}
    ]
    assert ws in manager.connections_in(ROOM)
    assert manager.get_presence(ROOM) == {"42"}
    assert manager.get_last_seen(42) == clock()
    assert manager.audit_log[-1] == {
        "action": "login",
        "user_id": 42,
        "room": ROOM,
        "ip": "10.0.0.7",
        "at": clock(),
    }


def test_session_source_reports_redis_or_memory(manager, make_ws, token_for, redis_mode):
    manager.store_session(42, member_session())
    result = auth(manager, make_ws(), token_for(42))
    assert result.session_source == ("redis" if redis_mode == "redis" else "memory")


def test_bearer_prefix_and_wildcard_room(manager, make_ws, token_for):
    manager.store_session(7, member_session())
    ws = make_ws()
    result = auth(manager, ws, "Bearer " + token_for(7), room="dev-backend")
    assert result.ok
    assert ws in manager.connections_in("dev-backend")


def test_connect_accepts_then_authenticates(manager, make_ws, token_for):
    manager.store_session(42, member_session())
    ws = make_ws()
    result = asyncio.run(manager.connect(ws, token_for(42), ROOM))
    assert ws.accepted and result.ok


def test_welcome_replays_last_event(wsapp, manager, make_ws, token_for):
    event = wsapp.events.ChatEvent(
        id="e1", type="message", room=ROOM, user_id=3, payload={"text": "hi"},
        timestamp=datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc),
    )
    manager.remember_last_event(event)
    manager.store_session(42, member_session())
    ws = make_ws()
    assert auth(manager, ws, token_for(42)).ok
    assert [f["type"] for f in ws.json_frames] == ["welcome", "message"]
    assert ws.json_frames[1]["id"] == "e1"


@pytest.mark.parametrize(
    "token, reason",
    [
        (None, "missing_token"),
        ("", "missing_token"),
        ("x" * 600, "missing_token"),
        ("not-a-token", "malformed"),
        ("1..abc", "malformed"),
        ("abc.123.deadbeef", "malformed"),
        ("42.99999999999.deadbeef", "bad_signature"),
    ],
)
def test_bad_tokens_are_rejected(manager, make_ws, token, reason):
    manager.store_session(42, member_session())
    ws = make_ws()
    result = auth(manager, ws, token)
    assert result.ok is False
    assert result.reason == reason
    assert ws.closed and ws.close_code == 4401
    assert manager.connections_in(ROOM) == []
    assert manager.get_presence(ROOM) == set()


def test_bad_signature_is_audited(manager, make_ws, token_for):
    manager.store_session(42, member_session())
    ws = make_ws()
    result = auth(manager, ws, token_for(42, secret="other-secret"))
    assert result.reason == "bad_signature"
    assert result.user_id == 42
    assert last_audit(manager) == "bad_signature"


def test_expired_token(manager, make_ws, token_for, clock):
    manager.store_session(42, member_session())
    token = token_for(42, ttl=30)
    clock.advance(31)
    ws = make_ws()
    result = auth(manager, ws, token)
    assert (result.ok, result.reason, result.user_id) == (False, "expired", 42)
    assert ws.json_frames == [{"type": "error", "code": "token_expired"}]
    assert ws.close_code == 4401


def test_unknown_session(manager, make_ws, token_for):
    ws = make_ws()
    result = auth(manager, ws, token_for(5))
    assert result.reason == "no_session"
    assert ws.close_code == 4401
    assert last_audit(manager) == "unknown_session"


def test_session_without_chat_role(manager, make_ws, token_for):
    manager.store_session(5, {"roles": ["billing"], "rooms": ["general"]})
    ws = make_ws()
    result = auth(manager, ws, token_for(5))
    assert result.reason == "no_role"
    assert ws.json_frames == [{"type": "error", "code": "forbidden"}]
    assert ws.close_code == 4403


@pytest.mark.parametrize("ban_room", ["*", ROOM])
def test_banned_user(manager, make_ws, token_for, clock, ban_room):
    until = int(clock() + 600)
    manager.store_session(42, member_session(bans=[{"room": ban_room, "until": until}]))
    ws = make_ws()
    result = auth(manager, ws, token_for(42))
    assert (result.ok, result.reason) == (False, "banned")
    assert ws.json_frames == [{"type": "error", "code": "banned", "until": until}]
    assert ws.close_code == 4403
    assert last_audit(manager) == "banned"


def test_permanent_ban(manager, make_ws, token_for):
    manager.store_session(42, member_session(bans=[{"until": None}]))
    assert auth(manager, make_ws(), token_for(42)).reason == "banned"


def test_expired_or_other_room_bans_do_not_apply(manager, make_ws, token_for, clock):
    bans = [
        {"room": "*", "until": int(clock() - 1)},
        {"room": "random", "until": None},
    ]
    manager.store_session(42, member_session(bans=bans))
    assert auth(manager, make_ws(), token_for(42)).ok


def test_wrong_room(manager, make_ws, token_for):
    manager.store_session(42, member_session())
    ws = make_ws()
    result = auth(manager, ws, token_for(42), room="secret-plans")
    assert (result.ok, result.reason) == (False, "room_forbidden")
    assert ws.json_frames == [{"type": "error", "code": "room_forbidden", "room": "secret-plans"}]
    assert ws.close_code == 4403
    assert last_audit(manager) == "room_denied"
    assert manager.connections_in("secret-plans") == []


def test_private_room_needs_member_role(manager, make_ws, token_for):
    manager.store_session(8, {"roles": ["guest"], "rooms": ["*"]})
    manager.store_session(9, {"roles": ["member"], "rooms": ["*"]})
    assert auth(manager, make_ws(), token_for(8), room="general").ok
    assert auth(manager, make_ws(), token_for(8), room="staff-lounge").reason == "room_forbidden"
    assert auth(manager, make_ws(), token_for(9), room="staff-lounge").ok


def test_staff_bypass_room_list_and_rate_limit(manager, make_ws, token_for):
    manager.store_session(1, {"roles": ["moderator"], "rooms": []})
    for _ in range(6):
        result = auth(manager, make_ws(), token_for(1), room="anywhere")
        assert result.ok, result.reason


def test_rate_limited_after_three_attempts(manager, make_ws, token_for, clock):
    manager.store_session(42, member_session())
    for _ in range(3):
        assert auth(manager, make_ws(), token_for(42)).ok
    ws = make_ws()
    result = auth(manager, ws, token_for(42))
    assert (result.ok, result.reason) == (False, "rate_limited")
    assert ws.json_frames == [{"type": "error", "code": "rate_limited", "retry_after": 60}]
    assert ws.close_code == 4429
    clock.advance(61)
    assert auth(manager, make_ws(), token_for(42)).ok


def test_redis_down_falls_back_to_local_state(wsapp, fake_redis, make_ws, token_for, clock, caplog):
    manager = wsapp.manager.ConnectionManager(
        redis=fake_redis, secret=SECRET, clock=clock, auth_attempts_per_minute=3
    )
    manager.store_session(42, member_session())
    fake_redis.fail = True
    ws = make_ws()
    with caplog.at_level(logging.WARNING):
        result = auth(manager, ws, token_for(42))
    assert result.ok
    assert result.session_source == "memory"
    assert ws.json_frames[0]["type"] == "welcome"
    assert manager.get_presence(ROOM) == {"42"}
    assert manager.get_last_seen(42) == clock()
    assert any("session lookup failed" in r.getMessage() for r in caplog.records)
    # the local rate limiter still applies while redis is down
    for _ in range(2):
        assert auth(manager, make_ws(), token_for(42)).ok
    assert auth(manager, make_ws(), token_for(42)).reason == "rate_limited"


def test_corrupt_session_in_redis_falls_back(wsapp, fake_redis, make_ws, token_for, clock):
    manager = wsapp.manager.ConnectionManager(redis=fake_redis, secret=SECRET, clock=clock)
    manager.store_session(42, member_session())
    fake_redis.set("session:42", "{not json")
    result = auth(manager, make_ws(), token_for(42))
    assert result.ok and result.session_source == "memory"


def test_session_only_in_redis(wsapp, fake_redis, make_ws, token_for, clock):
    fake_redis.set("session:77", '{"roles": ["member"], "rooms": ["general"]}')
    manager = wsapp.manager.ConnectionManager(redis=fake_redis, secret=SECRET, clock=clock)
    result = auth(manager, make_ws(), token_for(77))
    assert result.ok and result.session_source == "redis"
    assert fake_redis.smembers("presence:general") == {"77"}


def test_audit_sink_is_awaited(wsapp, clock, make_ws, token_for):
    seen = []

    async def sink(entry):
        await asyncio.sleep(0)
        seen.append(entry["action"])

    manager = wsapp.manager.ConnectionManager(secret=SECRET, clock=clock, audit_sink=sink)
    manager.store_session(42, member_session())
    auth(manager, make_ws(), token_for(42, secret="wrong"))
    auth(manager, make_ws(), token_for(42))
    assert seen == ["bad_signature", "login"]


# --------------------------------------------------------------------------
# presence / last seen (redis with in-memory fallback)
# --------------------------------------------------------------------------


def test_presence_redis_up_reads_redis(wsapp, fake_redis, clock):
    manager = wsapp.manager.ConnectionManager(redis=fake_redis, clock=clock)
    manager.join_presence(ROOM, 1)
    fake_redis.sadd(f"presence:{ROOM}", "99")  # joined via another server process
    assert manager.get_presence(ROOM) == {"1", "99"}
    assert "smembers" in fake_redis.commands()


def test_presence_redis_down_uses_memory(wsapp, fake_redis, clock, caplog):
    manager = wsapp.manager.ConnectionManager(redis=fake_redis, clock=clock)
    manager.join_presence(ROOM, 1)
    fake_redis.sadd(f"presence:{ROOM}", "99")
    fake_redis.fail = True
    with caplog.at_level(logging.WARNING):
        assert manager.get_presence(ROOM) == {"1"}
        manager.join_presence(ROOM, 2)
        assert manager.get_presence(ROOM) == {"1", "2"}
    assert any("presence" in r.getMessage() for r in caplog.records)


def test_presence_without_redis(wsapp, clock):
    manager = wsapp.manager.ConnectionManager(clock=clock)
    assert manager.get_presence(ROOM) == set()
    manager.join_presence(ROOM, 3)
    assert manager.get_presence(ROOM) == {"3"}
    assert manager.get_presence("other") == set()


def test_last_seen_up_down_and_missing(wsapp, fake_redis, clock):
    manager = wsapp.manager.ConnectionManager(redis=fake_redis, clock=clock)
    assert manager.get_last_seen(1) is None
    fake_redis.set("last_seen:1", "123.5")
    assert manager.get_last_seen(1) == 123.5
    fake_redis.fail = True
    assert manager.get_last_seen(1) is None  # never seen by this process
    assert wsapp.manager.ConnectionManager(clock=clock).get_last_seen(1) is None


# --------------------------------------------------------------------------
# rate limiter (Lua script with in-memory fallback)
# --------------------------------------------------------------------------


def _drain(manager, key, n, limit=3, window=10):
    return [manager.check_rate_limit(key, limit, window) for _ in range(n)]


def test_rate_limiter_with_redis_uses_lua_script(wsapp, fake_redis, clock):
    manager = wsapp.manager.ConnectionManager(redis=fake_redis, clock=clock)
    assert _drain(manager, "rl:a", 5) == [True, True, True, False, False]
    eval_calls = [args for name, args in fake_redis.calls if name == "eval"]
    assert len(eval_calls) == 5
    script, numkeys, key, limit, window = eval_calls[0]
    assert "redis.call(" in script and "KEYS[1]" in script and "ARGV[1]" in script
    assert (numkeys, key, limit, window) == (1, "rl:a", 3, 10)
    assert fake_redis.get("rl:a") == "5"
    assert 0 < fake_redis.ttl("rl:a") <= 10
    clock.advance(10)
    assert _drain(manager, "rl:a", 2) == [True, True]
    assert _drain(manager, "rl:b", 1) == [True]


def test_rate_limiter_redis_down_counts_locally(wsapp, fake_redis, clock, caplog):
    manager = wsapp.manager.ConnectionManager(redis=fake_redis, clock=clock)
    fake_redis.fail = True
    with caplog.at_level(logging.WARNING):
        assert _drain(manager, "rl:a", 4) == [True, True, True, False]
    assert any("rate limit" in r.getMessage() for r in caplog.records)
    clock.advance(9)
    assert _drain(manager, "rl:a", 1) == [False]
    clock.advance(1)
    assert _drain(manager, "rl:a", 3) == [True, True, True]


def test_rate_limiter_without_redis(wsapp, clock):
    manager = wsapp.manager.ConnectionManager(clock=clock)
    assert _drain(manager, "k", 4, limit=2) == [True, True, False, False]
    assert _drain(manager, "other", 1, limit=2) == [True]
    clock.advance(10)
    assert _drain(manager, "k", 3, limit=2) == [True, True, False]


# --------------------------------------------------------------------------
# event serialisation: four call paths, one wire format
# --------------------------------------------------------------------------


def _event(wsapp, user_id):
    return wsapp.events.ChatEvent(
        id="evt-1",
        type="message",
        room=ROOM,
        user_id=user_id,
        payload={"text": "hello", "mentions": [1, 2]},
        timestamp=datetime(2024, 5, 1, 12, 30, 15, tzinfo=timezone.utc),
    )


def _serialise_four_ways(wsapp, manager, event, make_ws):
    direct = make_ws("direct")
    asyncio.run(manager.send_event(direct, event))

    remembered = manager.remember_last_event(event)

    listener = make_ws("listener")
    manager.connections.setdefault(event.room, set()).add(listener)
    history = wsapp.history.MessageHistory()
    delivered = asyncio.run(wsapp.broadcast.Broadcaster(manager, history).publish(event))
    assert delivered == 1

    standalone = wsapp.history.MessageHistory()
    appended = standalone.append(event)
    assert standalone.recent(event.room) == [appended]
    assert history.recent(event.room) == [appended]

    return {
        "manager.send_event": direct.json_frames[0],
        "manager.remember_last_event": remembered,
        "broadcast.publish": listener.json_frames[0],
        "history.append": appended,
    }


@pytest.mark.parametrize(
    "user_id, wire_user_id", [(42, "42"), (None, None), (0, None)]
)
def test_serialisation_identical_on_all_paths(wsapp, clock, make_ws, user_id, wire_user_id):
    manager = wsapp.manager.ConnectionManager(clock=clock)
    event = _event(wsapp, user_id)
    outputs = _serialise_four_ways(wsapp, manager, event, make_ws)
    expected = {
        "id": "evt-1",
        "type": "message",
        "room": ROOM,
        "user_id": wire_user_id,
        "payload": {"text": "hello", "mentions": [1, 2]},
        "timestamp": "2024-05-01T12:30:15+00:00",
    }
    for path, output in outputs.items():
        assert output == expected, path
        assert list(output) == list(expected), path  # key order is part of the format
    assert manager.last_events[ROOM] == expected


def test_broadcast_drops_dead_sockets(wsapp, clock, make_ws):
    manager = wsapp.manager.ConnectionManager(clock=clock)
    alive, dead = make_ws("alive"), make_ws("dead")
    asyncio.run(dead.close())
    for ws in (alive, dead):
        manager.connections.setdefault(ROOM, set()).add(ws)
    delivered = asyncio.run(wsapp.broadcast.Broadcaster(manager).publish(_event(wsapp, 1)))
    assert delivered == 1
    assert manager.connections_in(ROOM) == [alive]
    manager.disconnect(alive, ROOM)
    assert manager.connections_in(ROOM) == []
    manager.disconnect(alive, ROOM)  # idempotent


def test_history_is_bounded_per_room(wsapp):
    history = wsapp.history.MessageHistory(max_per_room=3)
    for i in range(5):
        event = _event(wsapp, i)
        event.id = f"e{i}"
        history.append(event)
    assert [r["id"] for r in history.recent(ROOM)] == ["e2", "e3", "e4"]
    assert [r["id"] for r in history.recent(ROOM, limit=2)] == ["e3", "e4"]
    assert history.recent(ROOM, limit=0) == []
    assert history.recent("empty") == []
    assert history.rooms() == [ROOM]


def test_chat_event_create(wsapp):
    event = wsapp.events.ChatEvent.create("join", ROOM, user_id=None, payload={"a": 1})
    assert event.is_system and event.type == "join" and event.payload == {"a": 1}
    assert len(event.id) == 32 and event.timestamp.tzinfo is not None
