"""WS204 unbounded-queue on the semantic model: detection, the fix from the span, regressions.

Issue #12 (item 8: a limit that is only ever ``None`` bounds nothing; false alarm 6: a queue
nothing writes cannot grow, deques in tests are fixtures), issue #14 item 6 (sentinel queues,
byte buffers and ``put_nowait`` producers), and the two output paths agreeing.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.rules._semantic_paths import no_libcst
from wsrefactor.config import Config
from wsrefactor.registry import load_rules
from wsrefactor.runner import Job, process_file
from wsrefactor.selection import Selection
from wsrefactor.testing import check_source, fix_source

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "WS204"
RULE = load_rules(())["WS204"]
CASES = sorted(p for p in FIXTURES.glob("*.py") if not p.name.endswith(".fixed.py"))


def _code(source: str) -> str:
    return textwrap.dedent(source).lstrip("\n")


def _found(source: str, path: str = "example.py") -> list[int]:
    """Lines of the WS204 findings (edits path)."""
    return [f.line for f in check_source(_code(source), ["WS204"], path=path)]


# -- shapes the old prefilter tests held -------------------------------------------------------

FOUND = {
    "renamed queue": ("""
        from asyncio import Queue as Mailbox
        class Session:
            def __init__(self):
                self.outgoing = Mailbox()
            async def send(self, m):
                await self.outgoing.put(m)
    """, [4]),
    "generic queue, zero bound": ("""
        import asyncio.queues
        q = asyncio.queues.LifoQueue[int](0)
    """, [2]),
    "negative keyword bound": ("""
        import asyncio
        def make():
            return asyncio.PriorityQueue(maxsize=-1)
    """, [3]),
    "queue imported twice": ("""
        from queue import Queue
        def thread_side():
            return Queue()
        def loop_side():
            from asyncio import Queue
            return Queue()
    """, [6]),
    "attribute deque": ("""
        from collections import deque as ring
        class Room:
            def __init__(self):
                self.history = ring()
    """, [4]),
    "module deque, maxlen None": ("""
        import collections
        history = collections.deque([], None)
    """, [2]),
    "global deque": ("""
        from collections import deque
        history = None
        def reset():
            global history
            history = deque()
    """, [5]),
    "dict of deques": ("""
        from collections import deque
        buffers = {}
        def open_buffer(key):
            buffers[key] = deque()
    """, [4]),
    "class attribute": ("""
        from collections import deque
        class Log:
            lines: deque[str] = deque()
    """, [3]),
}
CLEAN = {
    "bounded by position and keyword": """
        import asyncio
        from collections import deque
        LIMIT = 10
        q1 = asyncio.Queue(100)
        q2 = asyncio.Queue(maxsize=LIMIT)
        history = deque([], 50)
        recent = deque(maxlen=LIMIT)
    """,
    "star arguments": """
        import asyncio
        from collections import deque
        def make(*args, **kwargs):
            return asyncio.Queue(*args), deque(**kwargs)
        shared = deque(*make())
    """,
    "thread queue": """
        import queue
        jobs = queue.Queue()
    """,
    "own Queue class": """
        class Queue:
            pass
        q = Queue()
    """,
    "local deques": """
        from collections import deque
        def walk(graph, start, frontier):
            todo = deque([start])
            frontier[start] = deque()
            return todo
    """,
    "waiters": """
        import asyncio
        import collections
        class Lock:
            def __init__(self):
                self._waiters = collections.deque()
                self.exit_callbacks = collections.deque()
                self.pending: collections.deque[asyncio.Future] = collections.deque()
    """,
    "kept in check by a queue class of its own": """
        from collections import deque
        class Buffer:
            def __init__(self):
                self.items = deque()
            def __len__(self):
                return len(self.items)
    """,
}


@pytest.mark.parametrize("case", sorted(FOUND))
def test_found(case):
    source, lines = FOUND[case]
    assert _found(source) == lines


@pytest.mark.parametrize("case", sorted(CLEAN))
def test_clean(case):
    assert _found(CLEAN[case]) == []


# -- issue #12 item 8: an Optional limit that is only ever None ----------------------------------

NONE_LIMIT = """
    from collections import deque
    class Inbox:
        max_size: int | None = None
        def __init__(self):
            self.messages = deque()
        def add(self, m):
            if self.max_size is not None and len(self.messages) >= self.max_size:
                raise OverflowError
            self.messages.append(m)
"""


def test_limit_that_defaults_to_none_is_no_bound():
    assert _found(NONE_LIMIT) == [5]


def test_limit_set_in_init_from_a_parameter_is_a_bound():
    source = NONE_LIMIT.replace(
        "self.messages = deque()", "self.messages = deque()\n            self.max_size = limit"
    ).replace("def __init__(self):", "def __init__(self, limit=None):")
    assert _found(source) == []


def test_instance_attribute_defaulting_to_none_is_no_bound():
    source = """
        from collections import deque
        class Buffer:
            def __init__(self):
                self.max_size: int | None = None
                self.items = deque()
            def push(self, item):
                while len(self.items) >= self.max_size:
                    self.items.popleft()
                self.items.append(item)
    """
    assert _found(source) == [5]


def test_module_limit_bound_to_none_is_no_bound():
    source = """
        from collections import deque
        LIMIT = None
        class Buffer:
            def __init__(self):
                self.items = deque()
            def full(self):
                return len(self.items) >= LIMIT
    """
    assert _found(source) == [5]
    assert _found(source.replace("LIMIT = None", "LIMIT = 100")) == []


# -- issue #12 false alarm 6: nothing writes it; deques in tests --------------------------------


def test_local_queue_only_read_cannot_grow():
    source = """
        import asyncio
        async def test_empty(consumer):
            mock_queue = asyncio.Queue(0)
            assert mock_queue.empty()
            assert mock_queue.qsize() == 0 and not mock_queue
            while not mock_queue.empty():
                mock_queue.get_nowait()
    """
    assert _found(source) == []


def test_local_queue_that_escapes_is_reported():
    source = """
        import asyncio
        async def run(consumer):
            mock_queue = asyncio.Queue(0)
            consumer(mock_queue)
    """
    assert _found(source) == [3]


def test_private_attribute_never_written_cannot_grow():
    source = """
        import asyncio
        class Reader:
            def __init__(self):
                self._inbox = asyncio.Queue()
            async def next(self):
                return await self._inbox.get()
    """
    assert _found(source) == []
    written = _code(source) + "    def feed(self, m):\n        self._inbox.put_nowait(m)\n"
    assert _found(written) == [4, 8]


def test_public_attribute_may_be_written_elsewhere():
    """Another module may ``put`` into a public attribute: still reported."""
    source = """
        import asyncio
        class Reader:
            def __init__(self):
                self.inbox = asyncio.Queue()
            async def next(self):
                return await self.inbox.get()
    """
    assert _found(source) == [4]


def test_private_attribute_handed_out_is_reported():
    source = """
        import asyncio
        class Reader:
            def __init__(self, pump):
                self._inbox = asyncio.Queue()
                pump.start(self._inbox)
    """
    assert _found(source) == [4]


DEQUE_FIXTURE = """
    from collections import deque
    class FakeSocket:
        def __init__(self):
            self.sent = deque()
        def send(self, m):
            self.sent.append(m)
"""


@pytest.mark.parametrize("path", ["tests/test_socket.py", "pkg/socket_test.py", "tests/helpers/fakes.py", "conftest.py"])
def test_deques_in_test_files_are_fixtures(path):
    assert _found(DEQUE_FIXTURE, path=path) == []


def test_same_deque_outside_tests_is_reported():
    assert _found(DEQUE_FIXTURE, path="pkg/socket.py") == [4]


# -- issue #14 item 6: sentinels, byte buffers, put_nowait producers -----------------------------


def test_sentinel_queue_is_reported_without_a_bound():
    source = """
        import asyncio
        class Hub:
            def __init__(self):
                self.events = asyncio.Queue()
            async def close(self):
                await self.events.put(None)
    """
    (finding,) = check_source(_code(source), ["WS204"])
    assert finding.fix is None and "close marker" in finding.message
    assert fix_source(_code(source), ["WS204"]) == _code(source)


def test_put_in_finally_is_a_closing_put():
    source = """
        import asyncio
        async def relay(source, sink):
            queue = asyncio.Queue()
            sink(queue)
            try:
                async for item in source:
                    await queue.put(item)
            finally:
                await queue.put(DONE)
    """
    (finding,) = check_source(_code(source), ["WS204"])
    assert finding.fix is None


def test_byte_buffer_is_not_given_a_maxlen():
    source = """
        from collections import deque
        class Stream:
            def __init__(self):
                self.pending = deque()
            def feed(self, text):
                self.pending.append(text.encode())
    """
    (finding,) = check_source(_code(source), ["WS204"])
    assert finding.fix is None and "byte/stream" in finding.message


STREAM_SHAPES = {
    "a *Stream* class": """
        import collections
        class BytesDequeStreamReader:
            def __init__(self):
                self.buffer = collections.deque()
            def feed_data(self, data):
                self.buffer.append(data)
    """,
    "the remainder of a chunk put back": """
        import collections
        class Reader:
            def __init__(self):
                self.parts = collections.deque()
            def feed(self, data):
                self.parts.append(data)
            def read(self, n):
                part = self.parts.popleft()
                self.parts.appendleft(part[n:])
                return part[:n]
    """,
    "a value annotated bytes": """
        from collections import deque
        class Reader:
            def __init__(self):
                self.parts = deque()
            def feed(self, data: bytes):
                self.parts.append(data)
    """,
}


@pytest.mark.parametrize("case", sorted(STREAM_SHAPES))
def test_stream_buffers_are_reported_without_maxlen(case):
    (finding,) = check_source(_code(STREAM_SHAPES[case]), ["WS204"])
    assert finding.fix is None and "byte/stream" in finding.message


def test_put_nowait_statement_gets_queuefull_handling():
    source = """
        import asyncio
        class Client:
            def __init__(self):
                self.outbox = asyncio.Queue()
            def offer(self, m):
                self.outbox.put_nowait(m)  # hot path
    """
    findings = check_source(_code(source), ["WS204"])
    assert [f.line for f in findings] == [4, 6]
    fixed = fix_source(_code(source), ["WS204"])
    assert "asyncio.Queue(maxsize=1000)" in fixed
    assert "        try:\n            self.outbox.put_nowait(m)  # hot path\n        except asyncio.QueueFull:" in fixed
    assert fix_source(fixed, ["WS204"]) == fixed


def test_put_nowait_sharing_its_line_is_no_lone_statement():
    """``q.put_nowait(m); n += 1`` cannot be wrapped alone: no automatic bound."""
    source = """
        import asyncio
        class Client:
            def __init__(self):
                self.outbox = asyncio.Queue()
            def offer(self, m):
                self.outbox.put_nowait(m); self.n = 1
    """
    (finding,) = check_source(_code(source), ["WS204"])
    assert finding.fix is None and "QueueFull" in finding.message


def test_put_nowait_passed_to_call_soon_threadsafe_gets_no_bound():
    source = """
        import asyncio
        def start(loop, thread):
            messages = asyncio.Queue()
            thread(lambda m: loop.call_soon_threadsafe(messages.put_nowait, m))
            return messages
    """
    (finding,) = check_source(_code(source), ["WS204"])
    assert finding.fix is None and "put_nowait" in finding.message


# -- one decision: plain check equals the edits path, and never parses libcst -------------------


def _job(want_edits: bool = False) -> Job:
    return Job(Config(), Selection(("WS204",), (), tuple(load_rules(()))), want_edits=want_edits)


def _key(findings):
    return [
        (f.code, f.line, f.column, f.end_line, f.end_column, f.message, f.stmt_line, f.stmt_end_line,
         f.context, f.fix is not None)
        for f in findings
    ]


def _sources(tmp_path: Path) -> list[Path]:
    snippets = [e.source for e in RULE.INVALID] + [s for s, _ in FOUND.values()] + [NONE_LIMIT, DEQUE_FIXTURE]
    out = list(CASES)
    for i, source in enumerate(snippets):
        path = tmp_path / f"snippet_{i}.py"
        path.write_text(_code(source), encoding="utf-8")
        out.append(path)
    return out


def test_plain_check_equals_edits_path(tmp_path):
    total = 0
    for path in _sources(tmp_path):
        plain = process_file(str(path), _job())
        edits = process_file(str(path), _job(want_edits=True))
        assert plain.internal_error is None and edits.internal_error is None, path.name
        assert _key(plain.findings) == _key(edits.findings), path.name
        for finding in edits.findings:
            assert finding.fix is None or finding.fix.edits, "a fixable finding carries its edits"
        total += len(plain.findings)
    assert total >= 30


def test_plain_check_never_parses_libcst(tmp_path, monkeypatch):
    sources = _sources(tmp_path)
    no_libcst(monkeypatch)
    results = [process_file(str(p), _job()) for p in sources]
    assert [r.internal_error for r in results] == [None] * len(sources)
    assert sum(len(r.findings) for r in results) >= 30
    with_edits = process_file(str(sources[0]), _job(want_edits=True))
    assert "libcst parsed" in (with_edits.internal_error or "")
