"""WS103 through a queue (issue #12, "where the message really flows"): a received frame put on
an ``asyncio.Queue`` in one module and parsed after ``get()`` in another is a client message; the
queue is known by where it is made (``semantic/queues.py``), never by its name. Each module marks
the lines that must be reported with ``# found``; every other line must stay silent."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.rules._projects import findings, project


def _marked(src: str) -> list[int]:
    return [n for n, line in enumerate(textwrap.dedent(src).lstrip("\n").splitlines(), 1) if "# found" in line]


def _expected(files: dict[str, str]) -> list[tuple[str, int]]:
    return sorted((path, n) for path, src in files.items() for n in _marked(src))


def _found(root: Path) -> list[tuple[str, int]]:
    return sorted((path, line) for path, line, _ in findings(root, "WS103"))


# -- the frame itself on a module-level queue -------------------------------------------------------

PRODUCER = """
import asyncio

import websockets

from app.consumer import Consumer

INBOX = asyncio.Queue()


async def handler(websocket):
    async for frame in websocket:
        await INBOX.put(frame)


async def main():
    consumer = Consumer(INBOX)
    async with websockets.serve(handler, "localhost", 8765):
        await consumer.run()
"""

CONSUMER = """
import json


class Consumer:
    def __init__(self, queue):
        self.queue = queue

    async def run(self):
        while True:
            frame = await self.queue.get()
            msg = json.loads(frame)  # found
            print(msg["type"])
"""


def _plain(root: Path, producer: str = PRODUCER, consumer: str = CONSUMER) -> dict[str, str]:
    files = {"app/__init__.py": "", "app/producer.py": producer, "app/consumer.py": consumer}
    project(root, files)
    return files


def test_frame_put_on_a_queue_is_parsed_after_get_in_another_module(tmp_path):
    files = _plain(tmp_path)
    assert _expected(files) == [("app/consumer.py", 11)]
    assert _found(tmp_path) == _expected(files)


def test_a_queue_fed_only_by_server_values_is_silent(tmp_path):
    producer = PRODUCER.replace("await INBOX.put(frame)", 'await INBOX.put(json.dumps({"type": "tick"}))')
    assert producer != PRODUCER
    _plain(tmp_path, "import json\n" + producer, CONSUMER.replace("  # found", ""))
    assert _found(tmp_path) == []


def test_a_frame_validated_before_the_put_is_silent(tmp_path):
    producer = PRODUCER.replace(
        "await INBOX.put(frame)", "msg = Message.model_validate_json(frame)\n        await INBOX.put(msg.model_dump_json())")
    assert producer != PRODUCER
    _plain(tmp_path, "from app.models import Message\n" + producer, CONSUMER.replace("  # found", ""))
    assert _found(tmp_path) == []


def test_the_get_side_that_validates_is_silent(tmp_path):
    consumer = CONSUMER.replace("msg = json.loads(frame)  # found", "msg = Message.model_validate(json.loads(frame))")
    assert consumer != CONSUMER
    _plain(tmp_path, PRODUCER, "from app.models import Message\n" + consumer)
    assert _found(tmp_path) == []


def test_a_reader_of_another_queue_is_silent(tmp_path):
    """The consumer gets from a queue of its own (the same attribute name, another queue)."""
    consumer = CONSUMER.replace("self.queue = queue", "self.queue = asyncio.Queue()").replace("  # found", "")
    _plain(tmp_path, PRODUCER, "import asyncio\n" + consumer)
    assert _found(tmp_path) == []


def test_a_parameter_handed_two_queues_is_silent(tmp_path):
    """``Consumer(INBOX)`` and ``Consumer(TICKS)``: which queue ``self.queue`` is cannot be told."""
    producer = PRODUCER.replace("INBOX = asyncio.Queue()", "INBOX = asyncio.Queue()\nTICKS = asyncio.Queue()").replace(
        "    consumer = Consumer(INBOX)\n", "    consumer = Consumer(INBOX)\n    ticker = Consumer(TICKS)\n")
    assert producer.count("Consumer(") == 2
    _plain(tmp_path, producer, CONSUMER.replace("  # found", ""))
    assert _found(tmp_path) == []


def test_a_queue_handed_an_unknown_value_somewhere_is_silent(tmp_path):
    producer = PRODUCER.replace("    consumer = Consumer(INBOX)\n", "    consumer = Consumer(INBOX)\n    other = Consumer(make())\n")
    assert producer != PRODUCER
    _plain(tmp_path, producer, CONSUMER.replace("  # found", ""))
    assert _found(tmp_path) == []


def test_without_the_module_making_the_queue_nothing_is_said(tmp_path):
    _plain(tmp_path)
    (tmp_path / "app" / "producer.py").unlink()
    assert _found(tmp_path) == []


# -- a wrapper object on a queue attribute, the queue made in a third module -------------------------

MAIN = """
import asyncio

from app.connections import Connections
from app.world import World


class Game:
    def __init__(self):
        self.to_world = asyncio.Queue()
        self.to_clients = asyncio.Queue()
        # the same queues, handed over under other parameter names
        self.connections = Connections(self.to_clients, self.to_world)
        self.world = World(inbox=self.to_world, outbox=self.to_clients)

    async def main(self, websocket):
        await self.connections.connection_loop(websocket)


async def run(game: Game):
    await game.connections.start(game)
"""

CONNECTIONS = """
import asyncio

import websockets

from app.messages import Envelope, Note


class Connections:
    def __init__(self, outgoing, incoming):
        self.out = incoming
        self.back = outgoing

    async def connection_loop(self, websocket):
        await self.out.put(Envelope(kind="new", payload=None, sender=websocket))
        while True:
            raw = await websocket.recv()
            message = Envelope(kind="client", payload=raw, sender=websocket)
            await self.out.put(message)
            await self.back.put(Note("server", raw))

    async def start(self, game):
        async with websockets.serve(game.main, "localhost", 9000):
            await asyncio.Future()
"""

MESSAGES = """
from dataclasses import dataclass


class Envelope:
    def __init__(self, kind, payload, sender):
        self.kind = kind
        self.payload = payload
        self.sender = sender


@dataclass
class Note:
    origin: str
    text: str
"""

WORLD = """
import json


class World:
    def __init__(self, outbox, inbox):
        self.inbox = inbox
        self.outbox = outbox

    async def process(self):
        while True:
            message = await self.inbox.get()
            if message.kind == "client":
                data = json.loads(message.payload)  # found
                if data.get("type") == "login":
                    print(data["name"])
                else:
                    await self.command(message)
            print(json.loads(message.kind)["x"])

    async def command(self, message):
        cmd = json.loads(message.payload)  # found
        return cmd["cmd"]

    async def replies(self):
        note = self.outbox.get_nowait()
        origin = json.loads(note.origin)
        return origin["x"], json.loads(note.text)["y"]  # found
"""


def _game(root: Path, **changed: str) -> dict[str, str]:
    files = {"app/__init__.py": "", "app/main.py": MAIN, "app/connections.py": CONNECTIONS,
             "app/messages.py": MESSAGES, "app/world.py": WORLD}
    files.update({f"app/{k}.py": v for k, v in changed.items()})
    project(root, files)
    return files


def test_wrapped_frames_follow_constructor_parameters_and_fields(tmp_path):
    """The queue is made in ``main.py`` and reaches ``Connections`` and ``World`` under other
    names; the frame is the ``payload`` of an ``Envelope`` (its ``__init__``) and the ``text``
    of a ``Note`` dataclass; other fields (``kind``, ``origin``) are not frames. The connection
    is known because ``websockets.serve(game.main)`` is handed a ``Game`` at its only call."""
    files = _game(tmp_path)
    assert _found(tmp_path) == _expected(files)
    assert len(_expected(files)) == 3


def test_wrapped_frames_need_the_connection(tmp_path):
    """``recv()`` on a value not known to be a connection reads no client frame."""
    main = MAIN.replace("    await game.connections.start(game)\n", "    await game.connections.start(make())\n")
    assert main != MAIN
    _game(tmp_path, main=main)
    assert _found(tmp_path) == []


def test_a_parameter_with_a_default_or_a_call_with_star_args_is_silent(tmp_path):
    """``def __init__(self, queue=None)``: a call may leave the default; ``Consumer(*queues)``:
    which parameter gets what is not known."""
    consumer = CONSUMER.replace("def __init__(self, queue):", "def __init__(self, queue=None):").replace("  # found", "")
    assert consumer != CONSUMER
    _plain(tmp_path / "a", PRODUCER, consumer)
    assert _found(tmp_path / "a") == []
    producer = PRODUCER.replace("    consumer = Consumer(INBOX)\n", "    consumer = Consumer(INBOX)\n    more = Consumer(*QUEUES)\n")
    assert producer != PRODUCER
    _plain(tmp_path / "b", producer, CONSUMER.replace("  # found", ""))
    assert _found(tmp_path / "b") == []


SAME_MODULE = """
import asyncio
import json

import websockets

FRAMES = asyncio.Queue()
EVENTS = asyncio.Queue()


async def handler(websocket):
    await EVENTS.put(json.dumps({"type": "joined"}))
    while True:
        FRAMES.put_nowait(await websocket.recv())


async def worker():
    while True:
        frame = await FRAMES.get()
        event = await EVENTS.get()
        kind = json.loads(frame)["type"]  # found
        print(kind, json.loads(event)["type"])


async def main():
    async with websockets.serve(handler, "localhost", 8765):
        await worker()
"""


def test_frames_and_server_events_on_two_queues_of_one_module(tmp_path):
    """The frame queue's item is reported, the events queue's is not."""
    project(tmp_path, {"server.py": SAME_MODULE})
    assert _found(tmp_path) == _expected({"server.py": SAME_MODULE}) == [("server.py", 20)]


def test_a_base_class_filled_through_super_init_is_silent(tmp_path):
    """A subclass hands the base's queue parameter another value in ``super().__init__``."""
    consumer = CONSUMER.replace("  # found", "") + '''

class Replay(Consumer):
    def __init__(self, source):
        super().__init__(source.queue())
'''
    _plain(tmp_path, PRODUCER, consumer)
    assert _found(tmp_path) == []
