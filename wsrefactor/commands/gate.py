"""``wsrefactor gate``: fail CI when a function is too complex or too long (radon's numbers).

Thresholds come from the flags, else from ``[tool.wsrefactor.gate]``, else the defaults
(``max-cc = 10``, ``max-lines = 50``, no average limit)::

    [tool.wsrefactor.gate]
    max-cc = 10
    max-lines = 50
    max-average = "B"          # rank letter or number
    baseline = ".wsrefactor-gate.json"   # relative to the config file
    overrides = [{path = "tests/**", max-cc = 20, max-lines = 200}]

Files are found like ``wsrefactor check`` finds them (same excludes, ``.gitignore``), measured
with radon (closures included, see :mod:`wsrefactor.complexity`) in worker processes when there
are many, and judged by :mod:`wsrefactor.gate`.

Exit codes:

* ``0`` - every function/method meets the thresholds (or its baseline record);
* ``1`` - at least one violation (this wins over unparsable files: the gate failed either way,
  and the violations are the actionable part);
* ``2`` - usage or configuration error, a malformed baseline, or - when there is no
  violation - files that could not be measured (syntax errors, unreadable files). Each such
  file is named on one stderr line and listed under ``errors`` in the JSON output; the other
  files are still measured and reported.

``--update-baseline`` rewrites the baseline with the current (lower) numbers and drops fixed
functions; it refuses (exit 1, nothing written) when anything got worse. When the baseline file
does not exist yet it is created with every current offender (adopting the gate).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

import typer

from wsrefactor.cli import (
    FORMAT_FLAGS,
    ConfigOpt,
    Failure,
    Format,
    JobsOpt,
    PathsArg,
    Session,
    ShardOpt,
    _err,
    _guard,
    _jobs,
    _shard,
    _write_output,
    app,
)

GATE_KEYS = ("max-cc", "max-lines", "max-average", "baseline", "overrides")
OVERRIDE_KEYS = ("path", "max-cc", "max-lines")
PARALLEL_MIN_FILES = 8


# --------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------


def _int_limit(value: Any, key: str, where: str) -> int:
    from wsrefactor.config import ConfigError

    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: '{key}' must be a non-negative integer, got {value!r}")
    return value


def _max_average_setting(value: Any, where: str) -> Any:
    """``gate.max-average`` is kept as written (number or letter); only its validity is checked here."""
    from wsrefactor.config import ConfigError
    from wsrefactor.gate import GateError, parse_max_average

    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{where}: 'gate.max-average' must be a number or a rank letter A-F, got {value!r}")
    try:
        parse_max_average(value)
    except GateError as exc:
        raise ConfigError(f"{where}: 'gate.max-average': {exc}") from None
    return value


def _baseline_setting(value: Any, where: str) -> str:
    """``gate.baseline`` stays relative: it is resolved against the config file later."""
    from wsrefactor.config import ConfigError

    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: 'gate.baseline' must be a non-empty string (a path)")
    return value


def _override_setting(item: Any, name: str, where: str) -> Any:
    """One ``gate.overrides[i]`` table as a :class:`wsrefactor.gate.PathOverride`."""
    from wsrefactor.config import ConfigError
    from wsrefactor.gate import PathOverride

    if not isinstance(item, dict):
        raise ConfigError(f"{where}: '{name}' must be a table like {{path = \"tests/**\", max-cc = 20}}")
    for k in item:
        if k not in OVERRIDE_KEYS:
            raise ConfigError(f"{where}: unknown key '{name}.{k}' (known: {', '.join(OVERRIDE_KEYS)})")
    path = item.get("path")
    if not isinstance(path, str) or not path.strip():
        raise ConfigError(f"{where}: '{name}.path' must be a non-empty glob string")
    max_cc = item.get("max-cc")
    max_lines = item.get("max-lines")
    if max_cc is not None:
        _int_limit(max_cc, f"{name}.max-cc", where)
    if max_lines is not None:
        _int_limit(max_lines, f"{name}.max-lines", where)
    return PathOverride(path, max_cc, max_lines)


def _overrides_setting(value: Any, where: str) -> list[Any]:
    from wsrefactor.config import ConfigError

    if not isinstance(value, list):
        raise ConfigError(f"{where}: 'gate.overrides' must be a list of tables like {{path = \"tests/**\", max-cc = 20}}")
    return [_override_setting(item, f"gate.overrides[{i}]", where) for i, item in enumerate(value)]


# key in the table -> (key in GateSettings, validator(value, where) returning the setting)
_GATE_SETTINGS: dict[str, tuple[str, Callable[[Any, str], Any]]] = {
    "max-cc": ("max_cc", lambda value, where: _int_limit(value, "gate.max-cc", where)),
    "max-lines": ("max_lines", lambda value, where: _int_limit(value, "gate.max-lines", where)),
    "max-average": ("max_average", _max_average_setting),
    "baseline": ("baseline", _baseline_setting),
    "overrides": ("overrides", _overrides_setting),
}


def gate_table(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Validate ``[tool.wsrefactor.gate]``; returns settings keyed like :class:`GateSettings`.

    Every problem raises :class:`wsrefactor.config.ConfigError` with one line naming the file
    and the key (``gate.max-cc``, ``gate.overrides[1].path``...).
    """
    from wsrefactor.config import ConfigError

    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in _GATE_SETTINGS:
            raise ConfigError(
                f"{where}: unknown key 'gate.{key}' in [tool.wsrefactor.gate] "
                f"(known: {', '.join(GATE_KEYS)})"
            )
        name, validate = _GATE_SETTINGS[key]
        out[name] = validate(value, where)
    return out


# --------------------------------------------------------------------------
# measuring
# --------------------------------------------------------------------------


def _says_generated(path: str) -> bool:
    """The file's header says it is generated (``check`` skips such files the same way)."""
    from wsrefactor.discovery import generated_header

    try:
        with open(path, "rb") as fh:
            head = fh.read(16384)
    except OSError:
        return False  # measuring reports the unreadable file
    return generated_header(head.decode("utf-8", errors="replace"))


def _measure_many(paths: Sequence[str], include_generated: bool = False) -> list[tuple[str, Any]]:
    """Worker: ``(path, blocks)``, ``(path, ComplexityError)``, or ``(path, None)`` for a file
    whose header says it is generated, for each file."""
    from wsrefactor.complexity import ComplexityError, measure_file

    out: list[tuple[str, Any]] = []
    for path in paths:
        if not include_generated and _says_generated(path):
            out.append((path, None))
            continue
        try:
            out.append((path, measure_file(path)))
        except ComplexityError as exc:
            out.append((path, exc))
    return out


def measure_files(paths: Sequence[str], jobs: int, include_generated: bool = False) -> list[tuple[str, Any]]:
    """Measure every file; in worker processes (largest first, small chunks) when many."""
    from wsrefactor.parallel import map_chunks

    results = map_chunks(_measure_many, paths, jobs, include_generated, min_items=PARALLEL_MIN_FILES)
    return sorted(results, key=lambda r: r[0])


# --------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------


def _render_external(fmt: Format, data: dict[str, Any]) -> str:
    import importlib

    name = f"wsrefactor.reporters.{fmt.value}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        raise Failure(f"--format {fmt.value} is not available for gate ({name} is not installed)") from None
    render = getattr(module, "render_gate", None)
    if render is None:
        raise Failure(f"--format {fmt.value} is not available for gate ({name} has no render_gate)")
    return str(render(data))


def _setting_line(config_file: str, key: str) -> int | None:
    """Line of ``key = ...`` in the config file (the gate table's setting), if found."""
    try:
        lines = Path(config_file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    return next((n for n, line in enumerate(lines, 1) if pattern.match(line)), None)


def average_location(result: Any, config_file: str | None, from_config: bool) -> dict[str, Any] | None:
    """Where the average-CC violation points: the ``max-average`` setting when the config set
    the limit, else the most complex checked function (the first place to lower the mean)."""
    if from_config and config_file:
        return {"path": config_file, "line": _setting_line(config_file, "max-average"), "col": None}
    functions = [b for b in result.blocks if b.is_function]
    if not functions:
        return {"path": config_file, "line": None, "col": None} if config_file else None
    worst = min(functions, key=lambda b: (-b.complexity, b.path, b.lineno))
    return {"path": worst.path, "line": worst.lineno, "col": worst.col}


def _anchored(data: dict[str, Any], root: str | None) -> dict[str, Any]:
    """The same document with project-relative paths made absolute: SARIF, GitHub and JUnit
    locate files from the working directory, which need not be the project root (a gate run
    from a subdirectory). The JSON format keeps project-relative paths, its baseline keys."""
    if not root:
        return data

    def anchor(item: dict[str, Any]) -> dict[str, Any]:
        path = item.get("path")
        if isinstance(path, str) and path and not os.path.isabs(path):
            return {**item, "path": os.path.join(root, path)}
        return item

    anchored: dict[str, Any] = {
        key: [anchor(i) for i in data[key]] for key in ("functions", "violations", "errors") if key in data
    }
    for f in anchored.get("functions", []):
        if f.get("reasons"):
            f["reasons"] = [anchor(r) for r in f["reasons"]]
    return {**data, **anchored}


def _render(fmt: Format, result: Any, errors: list[dict[str, Any]], where: Any = None, root: str | None = None) -> str:
    from wsrefactor.gate import render_text, to_json

    if fmt is Format.text:
        return render_text(result) + "\n"
    data = to_json(result)
    data["errors"] = errors
    if where is not None and any(v["metric"] == "average" for v in data["violations"]):
        data["average_location"] = where
    if fmt is Format.json:
        return json.dumps(data, indent=2, sort_keys=True) + "\n"
    text = _render_external(fmt, _anchored(data, root))
    return text if text.endswith("\n") else text + "\n"


# --------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------


def _resolve_baseline(cli_value: Optional[Path], table_value: Optional[str], session: Session) -> Optional[Path]:
    if cli_value is not None:
        return cli_value
    if table_value is not None:
        base = Path(session.config.source).resolve().parent if session.config.source else Path.cwd()
        return base / table_value
    return None


def _settings(session: Session, table: dict[str, Any], flags: dict[str, Any]) -> Any:
    """GateSettings from the config table, with the command-line flags taking precedence."""
    from wsrefactor.gate import GateError, GateSettings

    for flag, key in (("--max-cc", "max_cc"), ("--max-lines", "max_lines")):
        value = flags[key]
        if value is not None and value < 0:
            raise Failure(f"{flag} must be a non-negative integer")
    settings_kw = {k: v for k, v in table.items() if k in ("max_cc", "max_lines", "max_average", "overrides")}
    settings_kw.update({k: v for k, v in flags.items() if v is not None})
    try:
        return GateSettings(root=str(Path(session.config.root).resolve()), **settings_kw)
    except GateError as exc:
        raise Failure(str(exc)) from None


def _read_baseline(baseline_path: Optional[Path], update: bool) -> Optional[dict[str, Any]]:
    """The baseline's data; ``None`` when there is none, or when ``--update-baseline`` will create it."""
    from wsrefactor.gate import BaselineError, load_baseline

    if baseline_path is None:
        return None
    try:
        return load_baseline(baseline_path)
    except FileNotFoundError:
        if not update:
            raise Failure(f"{baseline_path}: baseline file not found (create it with --update-baseline)") from None
        return None
    except BaselineError as exc:
        raise Failure(str(exc)) from None
    except OSError as exc:
        raise Failure(f"{baseline_path}: cannot read baseline: {exc.strerror or exc}") from None


def _measure_session(
    session: Session, settings: Any, jobs: Optional[int], shard: Optional[tuple[int, int]] = None
) -> tuple[list[Any], list[dict[str, Any]], list[str]]:
    """``(blocks, errors, measured files)``; each file that cannot be measured gets a stderr line.
    ``shard`` keeps the files of part K of N (the partition ``check --shard`` uses)."""
    from wsrefactor.complexity import ComplexityError
    from wsrefactor.discovery import discover

    found = discover(session.paths, session.config)
    for missing in found.missing:
        raise Failure(f"{missing}: no such file or directory")
    paths = found.files
    if shard is not None:
        from wsrefactor.shard import select

        paths = select(paths, session.config.root, shard)
    blocks: list[Any] = []
    errors: list[dict[str, Any]] = []
    files: list[str] = []
    for path, outcome in measure_files(paths, _jobs(jobs), session.config.include_generated):
        if outcome is None:
            continue  # generated: not the project's code to gate
        if isinstance(outcome, ComplexityError):
            shown = settings.relpath(path)
            _err(f"{shown}{':' + str(outcome.lineno) if outcome.lineno else ''}: cannot measure: {outcome.message}")
            errors.append({"path": shown, "line": outcome.lineno, "message": outcome.message})
        else:
            blocks.extend(outcome)
            files.append(path)
    return blocks, errors, files


def _create_baseline(baseline_path: Path, blocks: list[Any], settings: Any) -> None:
    from wsrefactor.gate import make_baseline, save_baseline

    new = make_baseline(blocks, settings)
    save_baseline(baseline_path, new)
    count = sum(len(v) for v in new["entries"].values())
    _err(f"wsrefactor: baseline {baseline_path} created with {count} offender(s)")


def _ratchet_baseline(baseline_path: Path, blocks: list[Any], settings: Any, data: dict[str, Any], files: list[str]) -> None:
    """Rewrite the baseline with the lower numbers; exit 1 (nothing written) on any regression."""
    from wsrefactor.gate import save_baseline, update_baseline

    upd = update_baseline(blocks, settings, data, paths=files)
    if not upd.ok or upd.baseline is None:
        for line in upd.errors:
            _err(line)
        _err(f"wsrefactor: baseline not updated: {len(upd.errors)} regression(s)")
        raise typer.Exit(1)
    save_baseline(baseline_path, upd.baseline)
    _err(f"wsrefactor: baseline {baseline_path} updated ({len(upd.dropped)} dropped, {len(upd.tightened)} tightened)")


def _exit_code(passed: bool, errors: list[dict[str, Any]]) -> int:
    """Violations (1) win over unmeasurable files (2): the violations are what to act on."""
    if not passed:
        return 1
    return 2 if errors else 0


@app.command()
def gate(
    paths: Optional[list[str]] = PathsArg,
    max_cc: Optional[int] = typer.Option(None, "--max-cc", help="Highest cyclomatic complexity allowed (default 10)."),
    max_lines: Optional[int] = typer.Option(None, "--max-lines", help="Longest function allowed, in lines (default 50)."),
    max_average: Optional[str] = typer.Option(None, "--max-average", help="Highest average CC: a number or a rank letter A-F."),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="Baseline JSON of tolerated offenders (ratchet)."),
    update: bool = typer.Option(False, "--update-baseline", help="Rewrite the baseline with the current, lower numbers."),
    fmt: Format = typer.Option(Format.text, *FORMAT_FLAGS, help="Output format."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report to FILE."),
    config: Optional[Path] = ConfigOpt,
    jobs: Optional[int] = JobsOpt,
    shard: Optional[str] = ShardOpt,
) -> None:
    """Fail when a function's complexity or length is over the limit (radon's numbers)."""
    from wsrefactor.gate import evaluate, load_baseline

    code = 0
    with _guard():
        session = Session(paths, None, None, config, with_rules=False)
        table = gate_table(session.config.gate, session.config.source or "[tool.wsrefactor.gate]")
        flags = {"max_cc": max_cc, "max_lines": max_lines, "max_average": max_average}
        settings = _settings(session, table, flags)
        baseline_path = _resolve_baseline(baseline, table.get("baseline"), session)
        if update and baseline_path is None:
            raise Failure("--update-baseline needs --baseline FILE (or gate.baseline in the config)")
        data = _read_baseline(baseline_path, update)
        if shard is not None and update:
            raise Failure("--update-baseline needs every file: run it without --shard")
        blocks, errors, files = _measure_session(session, settings, jobs, _shard(shard))
        if update and baseline_path is not None:
            if data is None:
                _create_baseline(baseline_path, blocks, settings)
            else:
                _ratchet_baseline(baseline_path, blocks, settings, data, files)
            data = load_baseline(baseline_path)
        result = evaluate(blocks, settings, data, paths=files)
        where = average_location(result, session.config.source, max_average is None and "max_average" in table)
        _write_output(_render(fmt, result, errors, where, settings.root), output)
        code = _exit_code(result.passed, errors)
    raise typer.Exit(code)


__all__ = ["average_location", "gate", "gate_table", "measure_files"]
