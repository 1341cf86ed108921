"""Which calls and functions send a message to a WebSocket client (issue #12, miss 4).

Decided from what the callee does and what the receiver is, never from the method's name alone:

- a call of a function of this module (``ServerModel.resolve``: ``f()``, ``self.m()``,
  ``manager.m()`` on a module-level instance...) sends when that function's body sends, itself
  or through the functions it calls, a few calls deep: ``send_to_session``,
  ``send_personal_message`` or ``notify`` alike, and a same-module method named ``send_*`` that
  only fills a queue does not send;
- a call whose callee is not in this module sends when it is a send method (``send``,
  ``send_*``, ``write_message``) of a *connection value* (``ServerModel.connection_kind``), a
  method only a WebSocket connection offers (``send_text``, ``send_json``, ``send_bytes``,
  ``send_str``, ``write_message``: the receiver is a connection by what is done to it), or
  ``emit``/``send`` of a python-socketio / Flask-SocketIO server.

Anything else is not known to send: ``queue.send(x)``, ``generator.send(x)``, and a callee of
another module called on a value of unknown kind (``await imported_manager.send_to(user, x)``)
are silent. Calls into other modules are not followed (the per-file model has no project view).
"""

from __future__ import annotations

import ast

from wsrefactor.semantic.analyses import Analyses
from wsrefactor.semantic.broadcast import CONNECTION_METHODS
from wsrefactor.semantic.scopes import Scope
from wsrefactor.semantic.server import SOCKETIO_SERVERS, ServerModel

#: Methods only a WebSocket connection offers that send a message.
CONNECTION_SENDS = frozenset(m for m in CONNECTION_METHODS if m.startswith("send_") or m == "write_message")
#: Methods of a socket.io server that send to clients.
SERVER_SENDS = frozenset({"emit", "send"})
#: How many calls deep a callee's body is followed to a send.
DEPTH = 3


def connection_send_method(method: str) -> bool:
    """A method of a connection value that sends (``send``, ``send_text``, ``write_message``...)."""
    return method == "send" or method.startswith("send_") or method == "write_message"


class Sends:
    """Send facts of one module (an engine-owned analysis on ``ServerModel``)."""

    def __init__(self, analyses: Analyses) -> None:
        self.server: ServerModel = analyses(ServerModel)
        self._itself: dict[int, bool] = {}

    @classmethod
    def compute(cls, analyses: Analyses) -> Sends:
        return cls(analyses)

    def direct(self, call: ast.Call, scope: Scope) -> bool:
        """``call`` is itself a send to a client: its callee is not in this module and it is a
        send method of a connection, a connection-only send method, or a socket.io server's."""
        func = call.func
        if not isinstance(func, ast.Attribute) or self.server.resolve(call, scope) is not None:
            return False
        receiver, method = func.value, func.attr
        if self.server.connection_kind(receiver, scope) is not None:
            return connection_send_method(method)
        if method in CONNECTION_SENDS:
            return True
        return method in SERVER_SENDS and isinstance(receiver, (ast.Name, ast.Attribute)) and (
            self.server.model.type_of(receiver, scope) in SOCKETIO_SERVERS
        )

    def call_sends(self, call: ast.Call, scope: Scope, depth: int = DEPTH) -> bool:
        """``call`` sends: itself (``direct``), or the function of this module it runs does."""
        callee = self.server.resolve(call, scope)
        if callee is None:
            return self.direct(call, scope)
        return depth > 0 and self.sends(callee, depth - 1)

    def sends(self, fn: Scope, depth: int = DEPTH) -> bool:
        """``fn``'s own code sends, or a function of this module it calls does (``depth`` calls deep)."""
        return any(self._sends_itself(f) for f in [fn, *self.server.reachable(fn, depth)])

    def _sends_itself(self, fn: Scope) -> bool:
        key = id(fn)
        if key not in self._itself:
            self._itself[key] = any(self.direct(call, scope) for call, scope in self.server.calls_in(fn))
        return self._itself[key]
