"""The wsrefactor rule pack: one module per rule, importable as ``wsrefactor.rules``.

Modules whose name starts with ``_`` hold shared helpers and are not scanned for rules.
"""
