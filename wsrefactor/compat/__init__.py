"""The private parts of third-party libraries wsrefactor relies on, one module per library.

Each module names the upstream versions it was checked against (``CHECKED``), the range
``pyproject.toml`` allows, and wraps every private name it uses; ``tests/engine/test_compat.py``
fails with the symbol and the version when the installed library changes their shape. Code
elsewhere in wsrefactor imports these wrappers, never the private names themselves.
"""
