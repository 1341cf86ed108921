"""SARIF 2.1.0 output: one run, the rules that fired, results with locations, fingerprints, fixes.

Mapping of our positions to SARIF regions
-----------------------------------------
Findings and :class:`~wsrefactor.model.Edit` both use 1-based lines and 1-based columns counted in
characters, and both describe a half-open span: the start position is the first character, the
end position is *just past* the last one.  That is exactly SARIF's text-region convention
(``endColumn`` is one greater than the column of the last character), so positions are copied
unchanged and ``run.columnKind`` is ``unicodeCodePoints``:

* ``Edit(3, 1, 3, 1, text)`` -> ``deletedRegion {startLine 3, startColumn 1, endLine 3,
  endColumn 1}``: a zero-length region, i.e. insert ``text`` before line 3.
* ``Edit(4, 1, 6, 1, text)`` -> ``{startLine 4, startColumn 1, endLine 6, endColumn 1}``: lines 4
  and 5 including their line terminators; line 6 is untouched because the region stops before its
  first character.  An end at ``(last line + 1, 1)`` is the end of a file ending in a newline.

Every ``deletedRegion`` refers to the original file (as SARIF requires): a consumer applies the
replacements of an ``artifactChange`` from the last to the first.

Paths are relative to the current directory (posix, percent-encoded) with ``uriBaseId``
``%SRCROOT%``, whose ``originalUriBaseIds`` entry is the cwd's ``file:`` URI; a path outside the
cwd becomes an absolute ``file:`` URI.

``partialFingerprints["wsrefactor/v1"]`` hashes rule id, relative path and ``Finding.context``
(the flagged source and its enclosing function, no line number), plus an occurrence number when
the same triple occurs more than once in a file, so it survives lines inserted above.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from wsrefactor import __version__
from wsrefactor.model import Edit, Finding, Severity

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
TOOL_NAME = "wsrefactor"
INFORMATION_URI = "https://github.com/wsrefactor/wsrefactor"
README_URI = "https://github.com/wsrefactor/wsrefactor/blob/main/README.md"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "wsrefactor/v1"

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}

# Descriptors of the gate's checks (``wsrefactor gate``), which are not libcst rules.
GATE_RULES: dict[str, dict[str, str]] = {
    "WS301": {
        "name": "too-complex",
        "short": "function exceeds the cyclomatic complexity limit",
        "full": "A function or method whose radon cyclomatic complexity is over the configured "
        "max_cc (or over its recorded baseline value).",
    },
    "WS302": {
        "name": "too-long",
        "short": "function exceeds the length limit",
        "full": "A function or method longer (in lines, def to last line) than the configured "
        "max_lines (or than its recorded baseline value).",
    },
    "GATE-AVG": {
        "name": "average-complexity",
        "short": "average cyclomatic complexity exceeds the limit",
        "full": "The mean cyclomatic complexity of all checked functions and methods is over the "
        "configured max_average.",
    },
}
GATE_RULE_BY_METRIC = {"cc": "WS301", "length": "WS302", "average": "GATE-AVG"}


# --------------------------------------------------------------------------
# shared helpers (also used by the github and junit reporters)
# --------------------------------------------------------------------------


def level(severity: Severity | str) -> str:
    """SARIF level of a severity: error, warning, note."""
    return _LEVEL.get(Severity(severity), "warning")


def relative_path(path: str) -> str | None:
    """``path`` relative to the cwd, ``/``-separated; None when it is not below the cwd."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return None
    if rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel):
        return None
    return Path(rel).as_posix()


def shown_path(path: str) -> str:
    """Relative posix path when below the cwd, else the absolute posix path."""
    rel = relative_path(path)
    return rel if rel is not None else Path(os.path.abspath(path)).as_posix()


def artifact_location(path: str) -> dict[str, Any]:
    rel = relative_path(path)
    if rel is None:
        return {"uri": Path(os.path.abspath(path)).as_uri()}
    return {"uri": quote(rel, safe="/"), "uriBaseId": SRCROOT}


def _srcroot_uri() -> str:
    uri = Path(os.getcwd()).as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _region(start_line: int, start_column: int, end_line: int, end_column: int) -> dict[str, int]:
    """A SARIF text region from a half-open 1-based span (clamped to a valid, non-inverted span)."""
    start_line, start_column = max(start_line, 1), max(start_column, 1)
    end_line, end_column = max(end_line, 1), max(end_column, 1)
    if (end_line, end_column) < (start_line, start_column):
        end_line, end_column = start_line, start_column
    return {
        "startLine": start_line,
        "startColumn": start_column,
        "endLine": end_line,
        "endColumn": end_column,
    }


def edit_region(edit: Edit) -> dict[str, int]:
    """The SARIF ``deletedRegion`` of an edit: the same half-open span, unchanged (see module doc)."""
    return _region(edit.start_line, edit.start_column, edit.end_line, edit.end_column)


def first_paragraph(docs: str, heading: str = "What it does") -> str:
    """First paragraph under ``## <heading>`` of a rule's docs, lines joined by spaces."""
    lines = docs.splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"#+\s*{re.escape(heading)}\s*$", line.strip(), re.IGNORECASE):
            para: list[str] = []
            for text in lines[i + 1 :]:
                text = text.strip()
                if text.startswith("#") or (not text and para):
                    break
                if text:
                    para.append(text)
            return " ".join(para)
    return ""


def fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


def _rule_help_uri(code: str) -> str:
    return f"{README_URI}#{code.lower()}"


# --------------------------------------------------------------------------
# findings
# --------------------------------------------------------------------------


def _sampled_descriptor(code: str, sample: Finding | None) -> dict[str, Any]:
    """Descriptor of a code the registry does not know (bandit's B###), built from one of its findings."""
    name = sample.name if sample is not None else code
    category = sample.category if sample is not None else ""
    text = f"bandit check {name}" if category == "bandit" else name
    descriptor: dict[str, Any] = {
        "id": code,
        "name": name,
        "shortDescription": {"text": text},
        "fullDescription": {"text": text},
        "defaultConfiguration": {"level": level(sample.severity) if sample else "warning"},
    }
    if category:
        descriptor["properties"] = {"tags": [category]}
    return descriptor


def _rule_properties(rule: Any) -> dict[str, Any]:
    """``tags`` and ``fixSafety`` of a registry rule, each only when the rule has it."""
    props: dict[str, Any] = {}
    if getattr(rule, "category", ""):
        props["tags"] = [rule.category]
    fix_safety = getattr(rule, "fix_safety", None)
    if fix_safety is not None:
        props["fixSafety"] = getattr(fix_safety, "value", str(fix_safety))
    return props


def _rule_descriptor(code: str, rule: Any | None, sample: Finding | None) -> dict[str, Any]:
    if rule is None:
        return _sampled_descriptor(code, sample)
    docs = rule.docs() if hasattr(rule, "docs") else ""
    summary = getattr(rule, "summary", "") or getattr(rule, "name", "") or code
    descriptor: dict[str, Any] = {
        "id": code,
        "name": getattr(rule, "name", "") or code,
        "shortDescription": {"text": summary},
        "fullDescription": {"text": first_paragraph(docs) or summary},
        "defaultConfiguration": {"level": level(getattr(rule, "severity", Severity.WARNING))},
        "helpUri": _rule_help_uri(code),
    }
    if docs:
        descriptor["help"] = {"text": docs, "markdown": docs}
    props = _rule_properties(rule)
    if props:
        descriptor["properties"] = props
    return descriptor


def _replacements(edits: Iterable[Edit]) -> list[dict[str, Any]]:
    out = []
    for edit in sorted(edits):
        replacement: dict[str, Any] = {"deletedRegion": edit_region(edit)}
        if edit.content:
            replacement["insertedContent"] = {"text": edit.content}
        out.append(replacement)
    return out


def _fixes(finding: Finding) -> list[dict[str, Any]]:
    fix = finding.fix
    if fix is None:
        return []
    changes = []
    if fix.edits:
        changes.append(
            {"artifactLocation": artifact_location(finding.path), "replacements": _replacements(fix.edits)}
        )
    for path, edits in fix.other_files:
        if edits:  # SARIF requires at least one replacement per artifactChange
            changes.append({"artifactLocation": artifact_location(path), "replacements": _replacements(edits)})
    if not changes:
        return []
    return [
        {
            "description": {"text": fix.description or "apply the fix"},
            "artifactChanges": changes,
            "properties": {"safety": fix.safety.value},
        }
    ]


def _finding_fingerprints(findings: list[Finding]) -> list[str]:
    seen: dict[tuple[str, str, str], int] = {}
    out = []
    for f in findings:
        key = (f.code, shown_path(f.path), f.context or f"{f.message}")
        n = seen.get(key, 0) + 1
        seen[key] = n
        out.append(fingerprint(*key) if n == 1 else fingerprint(*key, f"#{n}"))
    return out


def _log(rules: list[dict[str, Any]], results: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "$schema": SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {SRCROOT: {"uri": _srcroot_uri()}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def to_sarif(findings: list[Finding], rules: Mapping[str, Any]) -> dict[str, Any]:
    """The SARIF log as a dict (``render`` serialises it)."""
    samples: dict[str, Finding] = {}
    for f in findings:
        samples.setdefault(f.code, f)
    codes = sorted(samples)
    descriptors = [_rule_descriptor(c, rules.get(c), samples.get(c)) for c in codes]
    index = {c: i for i, c in enumerate(codes)}
    fingerprints = _finding_fingerprints(findings)
    results = []
    for f, fp in zip(findings, fingerprints):
        result: dict[str, Any] = {
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": level(f.severity),
            "message": {"text": f.message or f.name or f.code},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": artifact_location(f.path),
                        "region": _region(f.line, f.column, f.end_line, f.end_column),
                    }
                }
            ],
            "partialFingerprints": {FINGERPRINT_KEY: fp},
        }
        fixes = _fixes(f)
        if fixes:
            result["fixes"] = fixes
        if f.category:
            result["properties"] = {"category": f.category}
        results.append(result)
    return _log(descriptors, results)


def render(findings: list[Finding], rules: Mapping[str, Any]) -> str:
    return json.dumps(to_sarif(findings, rules), indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------
# gate
# --------------------------------------------------------------------------


def gate_message(v: Mapping[str, Any]) -> str:
    """One line describing a gate violation from ``wsrefactor.gate.to_json``."""
    if v.get("metric") == "average":
        return f"{v.get('message')}"
    name = v.get("name") or "?"
    details = f"CC {v.get('complexity')} ({v.get('rank')}), length {v.get('length')}"
    return f"{name}: {v.get('message')} [{details}]"


def gate_region(v: Mapping[str, Any]) -> dict[str, int] | None:
    """Region of a block violation: from the ``def`` (radon's 0-based col) to the block's last line."""
    lineno = v.get("lineno")
    if not isinstance(lineno, int):
        return None
    region = {"startLine": max(lineno, 1), "startColumn": max(int(v.get("col") or 0), 0) + 1}
    endline = v.get("endline")
    if isinstance(endline, int) and endline >= lineno:
        region["endLine"] = endline
    return region


def gate_rule_descriptor(rule_id: str) -> dict[str, Any]:
    spec = GATE_RULES[rule_id]
    return {
        "id": rule_id,
        "name": spec["name"],
        "shortDescription": {"text": spec["short"]},
        "fullDescription": {"text": spec["full"]},
        "defaultConfiguration": {"level": "error"},
        "helpUri": _rule_help_uri(rule_id),
        "properties": {"tags": ["complexity"]},
    }


def _gate_rule_id(v: Mapping[str, Any]) -> str:
    return GATE_RULE_BY_METRIC.get(v.get("metric"), "WS301")


def _gate_result(v: Mapping[str, Any], rule_index: Mapping[str, int]) -> dict[str, Any]:
    """One SARIF result; the project-wide average violation has no location."""
    rule_id = _gate_rule_id(v)
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": rule_index[rule_id],
        "level": "error",
        "message": {"text": gate_message(v)},
    }
    path = v.get("path")
    if path:
        location: dict[str, Any] = {"artifactLocation": artifact_location(path)}
        region = gate_region(v)
        if region:
            location["region"] = region
        result["locations"] = [{"physicalLocation": location}]
        # The baseline key (qualified name, #N for repeats) carries no line number.
        result["partialFingerprints"] = {
            FINGERPRINT_KEY: fingerprint(rule_id, shown_path(path), str(v.get("key") or v.get("name")))
        }
    else:
        result["partialFingerprints"] = {FINGERPRINT_KEY: fingerprint(rule_id)}
    result["properties"] = {
        k: v.get(k) for k in ("metric", "value", "limit", "excess", "source") if v.get(k) is not None
    }
    return result


def to_sarif_gate(result_json: Mapping[str, Any]) -> dict[str, Any]:
    violations = list(result_json.get("violations") or [])
    rule_ids = sorted({_gate_rule_id(v) for v in violations})
    index = {r: i for i, r in enumerate(rule_ids)}
    results = [_gate_result(v, index) for v in violations]
    log = _log([gate_rule_descriptor(r) for r in rule_ids], results)
    log["runs"][0]["properties"] = {
        "passed": bool(result_json.get("passed", not violations)),
        "checked": result_json.get("checked", 0),
        "average": result_json.get("average", 0.0),
        "averageRank": result_json.get("average_rank", ""),
    }
    return log


def render_gate(result_json: dict[str, Any]) -> str:
    return json.dumps(to_sarif_gate(result_json), indent=2, ensure_ascii=False) + "\n"
