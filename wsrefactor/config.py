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


def _rule_options(
    code: str, value: Any, where: str, rules: Mapping[str, Any]
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: '{code}' must be a table of rule options")
    declared = {o.name: o for o in rules[code].options}
    out: dict[str, Any] = {}
    for name, opt_value in value.items():
        if name not in declared:
            allowed = ", ".join(sorted(declared)) or "none"
            raise ConfigError(
                f"{where}: unknown option '{code}.{name}' (options of {code}: {allowed})"
            )
        opt = declared[name]
        types = opt.type if isinstance(opt.type, tuple) else (opt.type,)
        ok = isinstance(opt_value, types) and not (
            isinstance(opt_value, bool) and bool not in types
        )
        if ok and list in types and isinstance(opt_value, list):
            ok = all(isinstance(v, str) for v in opt_value)
        if not ok:
            names = " or ".join(t.__name__ for t in types)
            raise ConfigError(f"{where}: '{code}.{name}' must be {names}, got {opt_value!r}")
        out[name] = opt_value
    return out


_KEYS = {
    "select", "ignore", "extend-select", "exclude", "extend-exclude", "per-file-ignores",
    "respect-gitignore", "target-version", "unsafe-fixes", "plugins", "cache", "cache-dir", "gate",
    "cross-file-scope",
}


RulesLoader = Callable[[tuple[str, ...]], Mapping[str, Any]]


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
    known_codes = list(rules)
    kw: dict[str, Any] = {"root": str(root), "source": where}
    rule_options: dict[str, dict[str, Any]] = {}
    for key, value in table.items():
        if key in rules:
            rule_options[key] = _rule_options(key, value, where, rules)
            continue
        if key not in _KEYS:
            raise ConfigError(f"{where}: unknown key '{key}' in [tool.wsrefactor]")
        if key in ("select", "ignore", "extend-select"):
            codes = _list_of_str(value, key, where)
            _check_codes(codes, key, where, known_codes)
            if key == "extend-select":
                kw["select"] = tuple(kw.get("select", DEFAULT_SELECT)) + codes
            else:
                kw[key] = codes
        elif key in ("exclude", "extend-exclude"):
            kw[key.replace("-", "_")] = _list_of_str(value, key, where)
        elif key == "plugins":
            kw["plugins"] = plugins
        elif key == "per-file-ignores":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: 'per-file-ignores' must be a table of glob = [codes]")
            pfi = []
            for glob, codes in value.items():
                codes_t = _list_of_str(codes, f"per-file-ignores.{glob}", where)
                _check_codes(codes_t, f"per-file-ignores.{glob}", where, known_codes)
                pfi.append((glob, codes_t))
            kw["per_file_ignores"] = tuple(pfi)
        elif key in ("respect-gitignore", "unsafe-fixes", "cache"):
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: '{key}' must be true or false")
            kw[key.replace("-", "_")] = value
        elif key == "target-version":
            if not isinstance(value, str):
                raise ConfigError(f"{where}: 'target-version' must be a string like 'py310'")
            kw["target_version"] = parse_target_version(value, where)
        elif key == "cross-file-scope":
            if value not in ("paths", "project"):
                raise ConfigError(f"{where}: 'cross-file-scope' must be \"paths\" or \"project\"")
            kw["cross_file_scope"] = value
        elif key == "cache-dir":
            if not isinstance(value, str):
                raise ConfigError(f"{where}: 'cache-dir' must be a string")
            kw["cache_dir"] = value
        elif key == "gate":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: 'gate' must be a table")
            kw["gate"] = dict(value)
    kw["rule_options"] = rule_options
    return Config(**kw)


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
