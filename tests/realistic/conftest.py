"""Load ``wsapp`` from an overridable root so the same behaviour tests can run
against the original fixture and against a refactored copy of it.

    WSAPP_ROOT=/tmp/refactored python -m pytest tests/realistic -q

``WSAPP_ROOT`` is the directory that *contains* the ``wsapp`` package
(default: ``<repo>/fixtures/realistic``).
"""

import importlib
import importlib.util
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
DEFAULT_WSAPP_ROOT = REPO_ROOT / "fixtures" / "realistic"
WSAPP_SUBMODULES = ("redis_errors", "events", "tokens", "manager", "broadcast", "history")


def wsapp_root():
    return Path(os.environ.get("WSAPP_ROOT") or DEFAULT_WSAPP_ROOT).resolve()


def _purge_wsapp():
    for name in list(sys.modules):
        if name == "wsapp" or name.startswith("wsapp."):
            del sys.modules[name]


def _load_fakes():
    # Loaded under a private name so it can't clash with another ``fakes``.
    name = "_wsrefactor_realistic_fakes"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "fakes.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def wsapp():
    root = wsapp_root()
    if not (root / "wsapp" / "__init__.py").is_file():
        pytest.fail(f"WSAPP_ROOT={root} does not contain a wsapp package")
    _purge_wsapp()
    sys.path.insert(0, str(root))
    try:
        package = importlib.import_module("wsapp")
        for sub in WSAPP_SUBMODULES:
            importlib.import_module(f"wsapp.{sub}")
        assert Path(package.__file__).resolve().parent == root / "wsapp"
        yield package
    finally:
        if str(root) in sys.path:
            sys.path.remove(str(root))
        _purge_wsapp()


@pytest.fixture(scope="module")
def fakes():
    return _load_fakes()


@pytest.fixture
def clock(fakes):
    return fakes.FakeClock()


@pytest.fixture
def fake_redis(wsapp, fakes, clock):
    return fakes.FakeRedis(wsapp.redis_errors.RedisError, clock=clock)


@pytest.fixture
def make_ws(fakes):
    counter = iter(range(1, 10_000))
    return lambda name=None: fakes.FakeWebSocket(name or f"ws{next(counter)}")
