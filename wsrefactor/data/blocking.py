"""The catalogue of blocking calls WS201 looks for, as data.

Two tables. ``FUNCTIONS``: functions (by qualified name) whose call blocks. ``OBJECTS``: kinds of
objects whose methods block, with the qualified names that produce one (constructors, factory
functions, classes used in annotations, and ``<kind>.<method>`` for methods that return another
object of a kind). Which object a receiver holds is decided by the semantic model's type facts
(constructor, annotation, ``with ... as``, ``self.attr`` bound in ``__init__``), never by its name.

Each entry says why it blocks and what the fix does:
- ``fix="sleep"``: ``await asyncio.sleep(...)`` (same duration; other tasks run meanwhile);
- ``fix="to_thread"``: ``await asyncio.to_thread(fn, *args)`` on the call that blocks;
- ``fix="none"``: reported only.
``safe`` says whether the fix keeps behaviour: a stateless function (its arguments are evaluated
on the loop as before, nothing it touches is shared with other tasks) or a client documented as
thread-safe is safe in a worker thread; a method of an object that other tasks may use at the
same time (a ``requests.Session``, an SMTP connection, a socket) is not, so that fix is unsafe.
The table is read once, at import; ``INDEX`` maps every qualified name to its entry.
"""

from __future__ import annotations

from dataclasses import dataclass

HTTP_VERBS = ("get", "post", "put", "patch", "delete", "head", "options", "request")


@dataclass(frozen=True)
class BlockingFunction:
    """Functions whose call blocks the thread that makes it."""

    names: tuple[str, ...]
    why: str
    fix: str = "to_thread"  # "sleep", "to_thread" or "none"
    safe: bool = True
    # Blocks only when called with arguments (``smtplib.SMTP(host)`` connects, ``SMTP()`` does not).
    needs_args: bool = False
    # Blocks only as a ``with`` item (``with Popen(...)``: the exit waits; ``Popen(...)`` returns at once).
    only_as_context: bool = False
    instead: str = ""  # the async library to prefer


@dataclass(frozen=True)
class BlockingObject:
    """A kind of object whose methods block (``methods=("*",)``: every method but ``exempt``)."""

    kind: str  # shown in messages: ``blocking call requests.Session.get``
    sources: tuple[str, ...]  # qualified names whose call (or annotation) gives such an object
    methods: tuple[str, ...]
    why: str
    exempt: tuple[str, ...] = ()
    safe_methods: tuple[str, ...] = ()  # methods whose to_thread fix is safe (others: unsafe)
    fix: str = "to_thread"
    instead: str = ""


FUNCTIONS: tuple[BlockingFunction, ...] = (
    BlockingFunction(("time.sleep",), "sleeps the thread, and with it the event loop", fix="sleep",
                     instead="asyncio.sleep"),
    BlockingFunction(
        ("urllib.request.urlopen", *(f"requests.{v}" for v in HTTP_VERBS), *(f"requests.api.{v}" for v in HTTP_VERBS),
         *(f"httpx.{v}" for v in HTTP_VERBS)),
        "synchronous HTTP request: waits for the network", instead="httpx.AsyncClient / aiohttp",
    ),
    BlockingFunction(
        tuple(f"subprocess.{n}" for n in ("run", "call", "check_call", "check_output", "getoutput", "getstatusoutput")),
        "waits for the child process to finish", instead="asyncio.create_subprocess_exec",
    ),
    BlockingFunction(("subprocess.Popen",), "the with block's exit waits for the process", fix="none",
                     only_as_context=True, instead="asyncio.create_subprocess_exec"),
    BlockingFunction(
        tuple(f"os.{n}" for n in ("system", "popen", "wait", "waitpid", "wait3", "wait4", "waitid")),
        "waits for a child process", instead="asyncio.create_subprocess_shell",
    ),
    BlockingFunction(("builtins.open", "io.open"), "file I/O on the loop's thread", instead="aiofiles / anyio"),
    BlockingFunction(("builtins.input",), "waits for a line on standard input"),
    BlockingFunction(("socket.create_connection",), "connects a blocking TCP socket",
                     instead="asyncio.open_connection"),
    BlockingFunction(("websocket.create_connection",), "websocket-client connects synchronously",
                     instead="websockets.asyncio.client.connect"),
    BlockingFunction(("websockets.sync.client.connect",), "websockets' threaded client connects synchronously",
                     instead="websockets.asyncio.client.connect"),
    BlockingFunction(("smtplib.SMTP", "smtplib.SMTP_SSL", "smtplib.LMTP"),
                     "connects to the mail server when given a host", needs_args=True, instead="aiosmtplib"),
    BlockingFunction(("pywebpush.webpush",), "sends the push message with a synchronous HTTP request",
                     instead="pywebpush's WebPusher with an async HTTP client"),
    BlockingFunction(("psycopg2.connect",), "connects to PostgreSQL synchronously", instead="asyncpg / psycopg 3 async"),
)

_PATH = ("pathlib.Path", "pathlib.PosixPath", "pathlib.WindowsPath")
_PATH_DERIVED = ("resolve", "absolute", "expanduser", "with_name", "with_suffix", "with_stem", "joinpath",
                 "relative_to", "cwd", "home")

OBJECTS: tuple[BlockingObject, ...] = (
    BlockingObject(
        "pathlib.Path", (*_PATH, *(f"{p}.{m}" for p in _PATH for m in _PATH_DERIVED)),
        ("read_text", "read_bytes", "write_text", "write_bytes", "open"),
        "file I/O on the loop's thread", safe_methods=("read_text", "read_bytes", "write_text", "write_bytes", "open"),
        instead="anyio.Path / aiofiles",
    ),
    BlockingObject(
        "requests.Session",
        ("requests.Session", "requests.session", "requests.sessions.Session", "requests.sessions.session"),
        (*HTTP_VERBS, "send", "stream"), "synchronous HTTP request: waits for the network",
        instead="httpx.AsyncClient / aiohttp.ClientSession",
    ),
    BlockingObject("httpx.Client", ("httpx.Client",), (*HTTP_VERBS, "send", "stream"),
                   "synchronous HTTP request: waits for the network", instead="httpx.AsyncClient"),
    BlockingObject(
        "subprocess.Popen", ("subprocess.Popen",), ("wait", "communicate"),
        "waits for the child process (starting it with Popen(...) returns at once)", safe_methods=("wait",),
        instead="asyncio.create_subprocess_exec",
    ),
    BlockingObject(
        "smtplib.SMTP", ("smtplib.SMTP", "smtplib.SMTP_SSL", "smtplib.LMTP"), ("*",),
        "talks to the mail server synchronously", exempt=("set_debuglevel", "has_extn"), instead="aiosmtplib",
    ),
    BlockingObject(
        "socket.socket", ("socket.socket", "socket.create_connection"),
        ("recv", "recv_into", "recvfrom", "recvfrom_into", "recvmsg", "send", "sendall", "sendto", "sendmsg",
         "sendfile", "connect", "accept"),
        "a blocking socket waits for the network", instead="asyncio streams / loop.sock_* methods",
    ),
    BlockingObject(
        "websocket.WebSocket", ("websocket.create_connection", "websocket.WebSocket"),
        ("send", "send_binary", "send_bytes", "send_text", "recv", "recv_data", "recv_frame", "ping", "pong",
         "close", "connect"),
        "websocket-client's connection reads and writes synchronously", instead="websockets.asyncio.client",
    ),
    BlockingObject(
        "websockets.sync.client.ClientConnection",
        ("websockets.sync.client.connect", "websockets.sync.client.ClientConnection",
         "websockets.sync.connection.Connection"),
        ("send", "recv", "recv_streaming", "ping", "pong", "close"),
        "websockets' threaded connection reads and writes synchronously", instead="websockets.asyncio.client",
    ),
    BlockingObject(
        "redis.Redis",
        ("redis.Redis", "redis.StrictRedis", "redis.client.Redis", "redis.client.StrictRedis", "redis.from_url",
         "redis.Redis.from_url", "redis.StrictRedis.from_url", "redis.client.Redis.from_url"),
        ("*",), "the synchronous redis client waits for the server",
        exempt=("pipeline", "pubsub", "lock", "register_script", "get_encoder", "get_connection_kwargs",
                "set_response_callback", "get_retry", "set_retry"),
        # redis-py clients are thread-safe (each command takes a pooled connection)
        safe_methods=("*",), instead="redis.asyncio.Redis",
    ),
    BlockingObject(
        "botocore.client.BaseClient",
        ("boto3.client", "boto3.Session.client", "boto3.session.Session.client", "botocore.client.BaseClient"), ("*",),
        "boto3 calls AWS synchronously",
        exempt=("get_paginator", "can_paginate", "get_waiter", "generate_presigned_url", "generate_presigned_post",
                "close"),
        # boto3's low-level clients are documented thread-safe
        safe_methods=("*",), instead="aioboto3 / aiobotocore",
    ),
    BlockingObject(
        "psycopg2.extensions.connection", ("psycopg2.connect", "psycopg2.extensions.connection"), ("commit", "rollback", "close"),
        "talks to PostgreSQL synchronously", instead="asyncpg / psycopg 3 async",
    ),
    BlockingObject(
        "psycopg2.extensions.cursor", ("psycopg2.extensions.connection.cursor", "psycopg2.extensions.cursor"),
        ("execute", "executemany", "callproc", "fetchone", "fetchmany", "fetchall", "copy_expert", "copy_from",
         "copy_to"),
        "talks to PostgreSQL synchronously", instead="asyncpg / psycopg 3 async",
    ),
    BlockingObject("pywebpush.WebPusher", ("pywebpush.WebPusher",), ("send",),
                   "sends the push message with a synchronous HTTP request"),
)

# Decorators that run a sync function in a worker thread (and return an awaitable).
THREADED_DECORATORS = frozenset({"asgiref.sync.sync_to_async", "channels.db.database_sync_to_async"})
THREADED_DECORATOR_NAMES = frozenset({"sync_to_async", "database_sync_to_async"})

# Builtins that iterate the argument they are given (a generator's body runs there).
CONSUMERS = frozenset({"builtins.list", "builtins.tuple", "builtins.set", "builtins.frozenset", "builtins.dict",
                       "builtins.sorted", "builtins.sum", "builtins.min", "builtins.max", "builtins.any",
                       "builtins.all", "builtins.next"})

FUNCTION_INDEX: dict[str, BlockingFunction] = {name: entry for entry in FUNCTIONS for name in entry.names}
OBJECT_INDEX: dict[str, BlockingObject] = {name: entry for entry in OBJECTS for name in entry.sources}


def blocking_method(obj: BlockingObject, method: str) -> bool:
    """Whether calling ``method`` on an object of this kind blocks."""
    if method.startswith("_") or method in obj.exempt:
        return False
    return "*" in obj.methods or method in obj.methods


def method_fix_safe(obj: BlockingObject, method: str) -> bool:
    return "*" in obj.safe_methods or method in obj.safe_methods
