"""``[tool.wsrefactor]`` configuration: found, parsed, validated; every error is one line naming file and key."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(Exception):
    """A configuration problem; ``str()`` is the one-line message shown to the user."""


DEFAULT_SELECT = ("WS", "B")
DEFAULT_EXCLUDE = (
    ".git", ".hg", ".svn", ".venv", "venv", ".env", "env", "__pycache__", "build", "dist",
    "node_modules", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    ".wsrefactor_cache", "site-packages", "*.egg-info", ".eggs",
)
_CODE_RE = re.compile(r"^[A-Z]+[0-9]*$")


@dataclass(frozen=True)
class Config:
    """Resolved settings. ``root`` anchors every glob; ``source`` is the file read (or None)."""

    root: str = "."
    source: str | None = None
    select: tuple[str, ...] = DEFAULT_SELECT
    ignore: tuple[str, ...] = ()
    explicit_select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    extend_exclude: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    respect_gitignore: bool = True
    target_version: tuple[int, int] = (3, 10)
    unsafe_fixes: bool = False
    plugins: tuple[str, ...] = ()
    cache: bool = True
    cache_dir: str = ".wsrefactor_cache"
    # "paths": cross-file rules see only the files given; "project": they also read every other
    # file of the project (for pre-commit, which passes only the staged files).
    cross_file_scope: str = "paths"
    rule_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    gate: Mapping[str, Any] = field(default_factory=dict)

    def with_overrides(self, **kw: Any) -> Config:
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


def _list_of_str(value: Any, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def parse_target_version(value: str, where: str = "--target-version") -> tuple[int, int]:
    m = re.fullmatch(r"(?:py)?3\.?(\d{1,2})", value.strip())
    if not m:
        raise ConfigError(f"{where}: 'target-version' must look like 'py310' or '3.10', got {value!r}")
    return (3, int(m.group(1)))


def _check_codes(codes: Sequence[str], key: str, where: str, known: Sequence[str]) -> None:
    for code in codes:
        if code == "ALL":
            continue
        if not _CODE_RE.match(code):
            raise ConfigError(f"{where}: '{key}' has {code!r}, which is not a rule code or prefix")
        if known and not any(k.startswith(code) for k in known) and not re.fullmatch(r"B\d*", code):
            raise ConfigError(f"{where}: '{key}' has unknown rule code {code!r}")


def _option_ok(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False  # TOML booleans are ints to Python; an int option must not take `true`
    if not isinstance(value, types):
        return False
    return not isinstance(value, list) or all(isinstance(v, str) for v in value)


def _rule_options(
    code: str, value: Any, where: str, rules: Mapping[str, Any]
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: '{code}' must be a table of rule options")
    declared = {o.name: o for o in rules[code].options}
    for name, opt_value in value.items():
        if name not in declared:
            allowed = ", ".join(sorted(declared)) or "none"
            raise ConfigError(
                f"{where}: unknown option '{code}.{name}' (options of {code}: {allowed})"
            )
        opt_type = declared[name].type
        types = opt_type if isinstance(opt_type, tuple) else (opt_type,)
        if not _option_ok(opt_value, types):
            names = " or ".join(t.__name__ for t in types)
            raise ConfigError(f"{where}: '{code}.{name}' must be {names}, got {opt_value!r}")
    return dict(value)


RulesLoader = Callable[[tuple[str, ...]], Mapping[str, Any]]


@dataclass
class _Table:
    """State while one ``[tool.wsrefactor]`` table is validated."""

    where: str
    root: Path
    codes: list[str]
    plugins: tuple[str, ...]
    kw: dict[str, Any]

    def fail(self, message: str) -> ConfigError:
        return ConfigError(f"{self.where}: {message}")

    def rule_codes(self, value: Any, key: str) -> tuple[str, ...]:
        codes = _list_of_str(value, key, self.where)
        _check_codes(codes, key, self.where, self.codes)
        return codes


def _key_codes(t: _Table, key: str, value: Any) -> None:
    codes = t.rule_codes(value, key)
    if key == "extend-select":
        t.kw["select"] = tuple(t.kw.get("select", DEFAULT_SELECT)) + codes
    else:
        t.kw[key] = codes


def _key_globs(t: _Table, key: str, value: Any) -> None:
    t.kw[key.replace("-", "_")] = _list_of_str(value, key, t.where)


def _key_plugins(t: _Table, key: str, value: Any) -> None:
    t.kw["plugins"] = t.plugins


def _key_per_file_ignores(t: _Table, key: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise t.fail("'per-file-ignores' must be a table of glob = [codes]")
    t.kw["per_file_ignores"] = tuple(
        (glob, t.rule_codes(codes, f"per-file-ignores.{glob}")) for glob, codes in value.items()
    )


def _key_bool(t: _Table, key: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise t.fail(f"'{key}' must be true or false")
    t.kw[key.replace("-", "_")] = value


def _key_target(t: _Table, key: str, value: Any) -> None:
    if not isinstance(value, str):
        raise t.fail("'target-version' must be a string like 'py310'")
    t.kw["target_version"] = parse_target_version(value, t.where)


def _key_scope(t: _Table, key: str, value: Any) -> None:
    if value not in ("paths", "project"):
        raise t.fail("'cross-file-scope' must be \"paths\" or \"project\"")
    t.kw["cross_file_scope"] = value


def _key_cache_dir(t: _Table, key: str, value: Any) -> None:
    if not isinstance(value, str):
        raise t.fail("'cache-dir' must be a string")
    t.kw["cache_dir"] = value


def _key_gate(t: _Table, key: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise t.fail("'gate' must be a table")
    t.kw["gate"] = dict(value)


_KEYS: dict[str, Callable[[_Table, str, Any], None]] = {
    "select": _key_codes, "ignore": _key_codes, "extend-select": _key_codes,
    "exclude": _key_globs, "extend-exclude": _key_globs, "plugins": _key_plugins,
    "per-file-ignores": _key_per_file_ignores, "respect-gitignore": _key_bool,
    "unsafe-fixes": _key_bool, "cache": _key_bool, "target-version": _key_target,
    "cross-file-scope": _key_scope, "cache-dir": _key_cache_dir, "gate": _key_gate,
}


def parse_table(table: Mapping[str, Any], where: str, root: Path, load: RulesLoader) -> Config:
    """Validate a ``[tool.wsrefactor]`` table against the known keys and the rules' options.

    Plugins are read first: their rules' codes and option tables are valid keys too.
    """
    plugins: tuple[str, ...] = ()
    if "plugins" in table:
        plugins = tuple(
            str((root / p).resolve()) for p in _list_of_str(table["plugins"], "plugins", where)
        )
    rules = load(plugins)
    state = _Table(where, root, list(rules), plugins, {"root": str(root), "source": where})
    rule_options: dict[str, dict[str, Any]] = {}
    for key, value in table.items():
        if key in rules:
            rule_options[key] = _rule_options(key, value, where, rules)
        elif key in _KEYS:
            _KEYS[key](state, key, value)
        else:
            raise state.fail(f"unknown key '{key}' in [tool.wsrefactor]")
    return Config(**state.kw, rule_options=rule_options)


def find_config(start: Path) -> Path | None:
    """Nearest ``pyproject.toml`` with a ``[tool.wsrefactor]`` table at or above ``start``."""
    here = start.resolve()
    if here.is_file() or not here.exists():
        here = here.parent
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                return candidate  # broken: load_config reports it
            if "wsrefactor" in data.get("tool", {}):
                return candidate
    return None


def load_config(path: Path | None, start: Path, rules: RulesLoader) -> Config:
    """Load ``path`` (``--config``) or the nearest pyproject; defaults when there is none."""
    file = path if path is not None else find_config(start)
    if file is None:
        return Config(root=str(Path.cwd()))
    where = str(file)
    try:
        data = tomllib.loads(Path(file).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read config: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: config is not valid UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: malformed TOML: {exc}") from None
    if "tool" in data or Path(file).name == "pyproject.toml":
        table = data.get("tool", {}).get("wsrefactor", {})
    else:
        table = data  # a dedicated config file holds the table at top level
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [tool.wsrefactor] must be a table")
    return parse_table(table, where, Path(file).resolve().parent, rules)
