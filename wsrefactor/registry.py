"""Finding the rules: the packaged pack (``wsrefactor.rules``) plus plugin files the config names.

Nothing else is ever imported as a rule: plugins load only from explicit paths.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing rules imports libcst: only load_rules does (the gate never)
    from wsrefactor.rule import Rule


class RegistryError(Exception):
    pass


def _rules_in(module: object) -> list[type[Rule]]:
    from wsrefactor.rule import Rule

    found = []
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, Rule)
            and value.code
            and value.__module__ == getattr(module, "__name__", None)
        ):
            found.append(value)
    return found


def _load_plugin(path: str) -> list[type[Rule]]:
    file = Path(path)
    if not file.is_file():
        raise RegistryError(f"{path}: plugin file not found")
    name = f"wsrefactor_plugin_{abs(hash(str(file.resolve())))}"
    if name in sys.modules:
        return _rules_in(sys.modules[name])
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise RegistryError(f"{path}: cannot load plugin")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a broken plugin must not take the run down with a traceback
        del sys.modules[name]
        raise RegistryError(f"{path}: plugin failed to import: {exc}") from None
    return _rules_in(module)


@lru_cache(maxsize=8)
def load_rules(plugins: tuple[str, ...] = ()) -> dict[str, type[Rule]]:
    """Every known rule by code, packaged rules first; a duplicate code is an error."""
    import wsrefactor.rules as pack

    rules: dict[str, type[Rule]] = {}
    modules = [
        importlib.import_module(f"{pack.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(pack.__path__), key=lambda i: i.name)
        if not info.name.startswith("_")
    ]
    classes = [cls for mod in modules for cls in _rules_in(mod)]
    for plugin in plugins:
        classes.extend(_load_plugin(plugin))
    for cls in classes:
        if cls.code in rules and rules[cls.code] is not cls:
            raise RegistryError(f"rule code {cls.code} is defined twice")
        rules[cls.code] = cls
    return dict(sorted(rules.items()))
