"""wsrefactor: find and rewrite the technical debt of Python WebSocket servers."""

__version__ = "0.1.0"
