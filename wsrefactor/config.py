"""``[tool.wsrefactor]`` configuration: found, parsed, validated; every error is one line naming file and key."""

from __future__ import annotations

import os
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
# Test files: gitignore-style globs relative to the config's directory (``tests/`` is any
# directory named tests, at any depth).
DEFAULT_TEST_FILES = ("tests/", "test_*.py", "*_test.py", "conftest.py")
# What is noise in a test file rather than debt: asserts (B101), fixture passwords and temp paths
# (B105-B108), non-crypto randomness (B311), running the code under test in a subprocess
# (B404, B603, B607), and long test functions (WS302: one scenario read top to bottom is not a
# method to extract). Complexity (WS301) and every WebSocket rule stay on.
DEFAULT_TEST_FILE_IGNORES = ("B101", "B105", "B106", "B107", "B108", "B311", "B404", "B603", "B607", "WS302")
# Generated code nobody edits by hand, by path; files whose header says ``@generated`` or
# "DO NOT EDIT" are recognised by content (``wsrefactor.discovery.is_generated``).
DEFAULT_GENERATED_FILES = ("*_pb2.py", "*_pb2_grpc.py", "**/migrations/[0-9]*.py")
CONFIG_FILES = (".wsrefactor.toml", "wsrefactor.toml", "pyproject.toml")


@dataclass(frozen=True)
class Config:
    """Resolved settings. ``root`` anchors every glob; ``source`` is the file read (or None)."""

    root: str = "."
    source: str | None = None
    select: tuple[str, ...] = DEFAULT_SELECT
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    extend_ignore: tuple[str, ...] = ()
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
    test_files: tuple[str, ...] = DEFAULT_TEST_FILES
    test_file_ignores: tuple[str, ...] = DEFAULT_TEST_FILE_IGNORES
    unsafe_fixes_in_tests: bool = False
    include_generated: bool = False
    generated_files: tuple[str, ...] = DEFAULT_GENERATED_FILES
    # from ``[tool.bandit]`` in the same pyproject.toml
    bandit_skips: tuple[str, ...] = ()
    bandit_tests: tuple[str, ...] = ()
    bandit_exclude_dirs: tuple[str, ...] = ()
    rule_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    gate: Mapping[str, Any] = field(default_factory=dict)

    def with_overrides(self, **kw: Any) -> Config:
        return replace(self, **{k: v for k, v in kw.items() if v is not None})

    @property
    def selected(self) -> tuple[str, ...]:
        """``select`` then ``extend-select``: whatever order the TOML keys came in."""
        return self.select + self.extend_select

    @property
    def ignored(self) -> tuple[str, ...]:
        """``ignore``, ``extend-ignore`` and ``[tool.bandit] skips``."""
        return self.ignore + self.extend_ignore + self.bandit_skips


@dataclass(frozen=True)
class Overrides:
    """Command-line settings, applied on top of every config file a run reads (ruff's rules:
    ``--select`` replaces ``select`` and ``extend-select``; ``--ignore`` replaces ``ignore`` and
    ``extend-ignore``; the ``--extend-*`` flags add to whatever remains)."""

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    extend_ignore: tuple[str, ...] = ()
    other: tuple[tuple[str, Any], ...] = ()  # plain field replacements (target_version, cache, ...)

    @classmethod
    def of_flags(cls, flags: Mapping[str, tuple[str, ...] | None], other: Mapping[str, Any]) -> Overrides:
        """From the command line's code lists (keyed by flag) and its plain settings."""
        return cls(
            flags.get("--select"), flags.get("--ignore"), tuple(flags.get("--extend-select") or ()),
            tuple(flags.get("--extend-ignore") or ()), tuple(other.items()),
        )

    def apply(self, config: Config) -> Config:
        kw: dict[str, Any] = {k: v for k, v in self.other if v is not None}
        select, extend_select = config.select, config.extend_select
        if self.select is not None:
            select, extend_select = self.select, ()
        ignore, extend_ignore = config.ignore, config.extend_ignore
        if self.ignore is not None:
            ignore, extend_ignore = self.ignore, ()
        return replace(
            config, select=select, ignore=ignore, extend_select=extend_select + self.extend_select,
            extend_ignore=extend_ignore + self.extend_ignore, **kw,
        )


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
    t.kw[key.replace("-", "_")] = t.rule_codes(value, key)


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
    "extend-ignore": _key_codes, "test-file-ignores": _key_codes,
    "exclude": _key_globs, "extend-exclude": _key_globs, "plugins": _key_plugins,
    "test-files": _key_globs, "generated-files": _key_globs,
    "per-file-ignores": _key_per_file_ignores, "respect-gitignore": _key_bool,
    "unsafe-fixes": _key_bool, "cache": _key_bool, "target-version": _key_target,
    "unsafe-fixes-in-tests": _key_bool, "include-generated": _key_bool,
    "cross-file-scope": _key_scope, "cache-dir": _key_cache_dir, "gate": _key_gate,
}


def parse_table(
    table: Mapping[str, Any], where: str, root: Path, load: RulesLoader, bandit: Mapping[str, Any] | None = None
) -> Config:
    """Validate a ``[tool.wsrefactor]`` table against the known keys and the rules' options.

    Plugins are read first: their rules' codes and option tables are valid keys too. ``bandit``
    is the same file's ``[tool.bandit]`` table, if any.
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
    if bandit:
        state.kw.update(_bandit_table(bandit, where))
    return Config(**state.kw, rule_options=rule_options)


def _bandit_table(table: Mapping[str, Any], where: str) -> dict[str, tuple[str, ...]]:
    """The parts of ``[tool.bandit]`` that decide what bandit reports: ``skips``, ``tests``,
    ``exclude_dirs``. Its other keys (plugin options) are bandit's business and left alone."""
    out: dict[str, tuple[str, ...]] = {}
    section = "[bandit]" if where.endswith(BANDIT_INI) else "[tool.bandit]"
    for key, field_name in (("skips", "bandit_skips"), ("tests", "bandit_tests"), ("exclude_dirs", "bandit_exclude_dirs")):
        if key in table:
            values = _list_of_str(table[key], f"{section} {key}", where)
            if key != "exclude_dirs":
                bad = [v for v in values if not re.fullmatch(r"B\d{3}", v.strip().upper())]
                if bad:
                    raise ConfigError(f"{where}: '{section} {key}' has {bad[0]!r}, which is not a bandit test id")
                values = tuple(v.strip().upper() for v in values)
            out[field_name] = values
    return out


BANDIT_INI = ".bandit"


def _bandit_section(file: Path) -> Any:
    """The ``[bandit]`` section of a ``.bandit`` INI file (None without one); errors name the file."""
    import configparser

    parser = configparser.ConfigParser()
    try:
        parser.read_string(_config_text(file), source=str(file))
    except configparser.Error as exc:
        raise ConfigError(f"{file}: malformed INI: {' '.join(str(exc).split())}") from None
    return parser["bandit"] if parser.has_section("bandit") else None


def _ini_list(value: str) -> list[str]:
    """An INI list as bandit writes it: comma-separated, brackets allowed, lines may continue."""
    raw = value.replace("[", "").replace("]", "").replace("\n", ",")
    items = (v.strip().strip("'\"").removesuffix("/*") for v in raw.split(","))
    return [v for v in items if v]


def _read_bandit_ini(file: Path) -> dict[str, Any]:
    """A ``.bandit`` INI file's ``[bandit]`` section as a ``[tool.bandit]`` table: ``skips`` and
    ``tests`` as they are, ``exclude`` paths as ``exclude_dirs``. Bandit finds this file in the
    scanned project's root."""
    section = _bandit_section(file)
    if section is None:
        return {}
    table: dict[str, Any] = {key: _ini_list(section[key]) for key in ("skips", "tests") if key in section}
    excluded = [d for key in ("exclude", "exclude_dirs") if key in section for d in _ini_list(section[key])]
    if excluded:
        table["exclude_dirs"] = excluded
    return table


def _config_text(file: Path) -> str:
    """A config file's text; an unreadable or non-UTF-8 file is one line naming it."""
    try:
        return Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read config: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: config is not valid UTF-8") from None


def _read_toml(file: Path) -> dict[str, Any]:
    text = _config_text(file)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: malformed TOML: {exc}") from None


def _kind(file: Path) -> str | None:
    """``"config"`` for a file that configures wsrefactor (or is broken: loading reports it),
    ``"bandit"`` for a pyproject.toml with only ``[tool.bandit]``, None otherwise."""
    if not file.is_file():
        return None
    if file.name == BANDIT_INI:
        return "bandit"
    if file.name != "pyproject.toml":
        return "config"
    try:
        tool = tomllib.loads(file.read_text(encoding="utf-8")).get("tool", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return "config"
    if not isinstance(tool, dict):
        return None
    return "config" if "wsrefactor" in tool else "bandit" if "bandit" in tool else None


class _Finder:
    """Config files per directory, each directory's files read once."""

    def __init__(self) -> None:
        self._own: dict[Path, tuple[Path | None, Path | None]] = {}
        self._nearest: dict[Path, tuple[Path | None, Path | None]] = {}

    def _in(self, directory: Path) -> tuple[Path | None, Path | None]:
        if directory not in self._own:
            config = bandit = None
            for name in CONFIG_FILES:
                kind = _kind(directory / name)
                if kind == "config":
                    config = directory / name
                    break
                if kind == "bandit":
                    bandit = directory / name
            if config is None and bandit is None and _kind(directory / BANDIT_INI):
                bandit = directory / BANDIT_INI
            self._own[directory] = (config, bandit)
        return self._own[directory]

    def nearest(self, directory: Path) -> Path | None:
        """The closest config file at or above ``directory``; failing that, the closest
        pyproject.toml holding ``[tool.bandit]``."""
        config, bandit = self._chain(directory)
        return config or bandit

    def _chain(self, directory: Path) -> tuple[Path | None, Path | None]:
        if directory not in self._nearest:
            config, bandit = self._in(directory)
            if config is None and directory.parent != directory:
                up_config, up_bandit = self._chain(directory.parent)
                config, bandit = up_config, bandit or up_bandit
            self._nearest[directory] = (config, bandit)
        return self._nearest[directory]


def find_config(start: Path) -> Path | None:
    """Nearest config at or above ``start``: ``.wsrefactor.toml``, ``wsrefactor.toml`` or a
    ``pyproject.toml`` with ``[tool.wsrefactor]`` (else one with ``[tool.bandit]``)."""
    here = Path(os.path.abspath(start))
    if here.is_file() or not here.exists():
        here = here.parent
    return _Finder().nearest(here)


def load_file(file: Path, rules: RulesLoader) -> Config:
    """One config file, validated; its directory is the root of its globs."""
    where = str(file)
    if Path(file).name == BANDIT_INI:
        return parse_table({}, where, Path(file).resolve().parent, rules, _read_bandit_ini(file))
    data = _read_toml(file)
    bandit: Any = None
    if "tool" in data or Path(file).name == "pyproject.toml":
        tool = data.get("tool", {})
        table = tool.get("wsrefactor", {}) if isinstance(tool, dict) else {}
        bandit = tool.get("bandit") if isinstance(tool, dict) else None
        if bandit is not None and not isinstance(bandit, dict):
            raise ConfigError(f"{where}: [tool.bandit] must be a table")
    else:
        table = data  # a dedicated config file holds the table at top level
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [tool.wsrefactor] must be a table")
    return parse_table(table, where, Path(file).resolve().parent, rules, _or_bandit_ini(bandit, file))


def _or_bandit_ini(bandit: Any, file: Path) -> Any:
    """``[tool.bandit]`` when the file has one, else a ``.bandit`` file beside it, if any."""
    ini = Path(file).resolve().parent / BANDIT_INI
    return _read_bandit_ini(ini) if bandit is None and ini.is_file() else bandit


def common_start(paths: Sequence[str]) -> Path:
    """The deepest directory holding every path: where the run's own config is looked up, so
    that it never depends on the order of the paths."""
    absolute = [os.path.abspath(p) for p in paths] or [os.getcwd()]
    common = Path(os.path.commonpath(absolute))
    return common if len(absolute) > 1 or not common.is_file() else common.parent


@dataclass(frozen=True)
class ConfigMap:
    """Which config governs each file: the one whose directory is the deepest holding it, else
    ``default``. Picklable; workers receive it with the job."""

    default: Config
    configs: tuple[Config, ...] = ()  # deepest root first
    _memo: dict[str, Config] = field(default_factory=dict, compare=False, repr=False)

    def for_path(self, path: str) -> Config:
        directory = os.path.dirname(os.path.abspath(path))
        hit = self._memo.get(directory)
        if hit is None:
            hit = self.default
            for config in self.configs:
                root = config.root
                if directory == root or directory.startswith(root.rstrip(os.sep) + os.sep):
                    hit = config
                    break
            self._memo[directory] = hit
        return hit


class ConfigLookup:
    """Nearest config per file (as ruff): every config file met is loaded once, validated (an
    error stops the run, exit 2) and given the command line's overrides. Lives in the main
    process; ``snapshot`` is what workers get."""

    def __init__(self, load: RulesLoader, overrides: Overrides, default: Config) -> None:
        self._load = load
        self._overrides = overrides
        self.default = default
        self._finder = _Finder()
        self._configs: dict[Path, Config] = {}

    def for_directory(self, directory: Path) -> Config:
        file = self._finder.nearest(Path(os.path.abspath(directory)))
        if file is None:
            return self.default
        if file not in self._configs:
            self._configs[file] = self._overrides.apply(load_file(file, self._load))
        return self._configs[file]

    def for_path(self, path: str | Path) -> Config:
        return self.for_directory(Path(os.path.abspath(path)).parent)

    def snapshot(self) -> ConfigMap:
        configs = sorted(self._configs.values(), key=lambda c: len(Path(c.root).parts), reverse=True)
        return ConfigMap(self.default, tuple(configs))


def resolve(
    paths: Sequence[str], config_file: Path | None, overrides: Overrides, load: RulesLoader
) -> tuple[Config, ConfigLookup | None]:
    """The run's own config and, without ``--config``, the lookup that finds each file's.

    The run's config (cache, cross-file scope, gate, reports) is the nearest one above the
    deepest directory holding every path, so it never depends on the paths' order.
    """
    if config_file is not None:
        return overrides.apply(load_file(config_file, load)), None
    lookup = ConfigLookup(load, overrides, overrides.apply(Config(root=str(Path.cwd()))))
    return lookup.for_directory(common_start(paths)), lookup
