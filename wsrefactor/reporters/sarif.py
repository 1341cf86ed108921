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

Rule descriptors
----------------
``fullDescription`` is the rule's whole "What it does" section; ``help`` its full docs.
Security rules (WS101-WS104 and every bandit check) carry the ``security`` tag, their CWE as
``external/cwe/cwe-N`` and ``properties["security-severity"]`` (GitHub code scanning's 0-10
scale): fixed per WebSocket rule (:data:`SECURITY_SEVERITY`), and for a bandit check the worst of
its findings in the run, from bandit's own severity and confidence (:func:`bandit_security_severity`).
A bandit rule's ``helpUri`` is bandit's documentation page of that plugin (bandit's own
``docs_utils.get_url``, the link bandit's SARIF output uses) and its ``help`` the plugin's docs.
``informationUri`` and our rules' ``helpUri`` come from wsrefactor's ``[project.urls]``
(``Homepage``/``Repository``/``Source``; ``Documentation`` for rule anchors) and are omitted when
none is set: no link points nowhere.

``partialFingerprints["wsrefactor/v1"]`` hashes rule id, relative path and ``Finding.context``
(the flagged source and its enclosing function, no line number), plus an occurrence number when
the same triple occurs more than once in a file, so it survives lines inserted above.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from wsrefactor import __version__
from wsrefactor.model import Edit, Finding, Severity

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
TOOL_NAME = "wsrefactor"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "wsrefactor/v1"

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}

#: GitHub ``security-severity`` (CVSS-like 0-10) and CWE of the WebSocket security rules: WS101
#: cross-site WebSocket hijacking (CWE-1385, high), WS102 unbounded message size (memory
#: exhaustion, CWE-770), WS103 unvalidated message (CWE-20), WS104 a connection left registered
#: after it closed (leak, sends to dead sockets; CWE-404).
SECURITY_SEVERITY: dict[str, tuple[float, int]] = {
    "WS101": (8.1, 1385),
    "WS102": (7.5, 770),
    "WS103": (6.5, 20),
    "WS104": (4.3, 404),
}
_BANDIT_SEVERITY = {"HIGH": 8.0, "MEDIUM": 5.5, "LOW": 3.0}
_BANDIT_CONFIDENCE_PENALTY = {"HIGH": 0.0, "MEDIUM": 0.5, "LOW": 1.0}

# Descriptors of the gate's checks (``wsrefactor gate``), which are not libcst rules; the names
# are the WS301/WS302 rules' names (a test keeps them equal without the gate importing libcst).
GATE_RULES: dict[str, dict[str, str]] = {
    "WS301": {
        "name": "complex-function",
        "short": "function exceeds the cyclomatic complexity limit",
        "full": "A function or method (closures included) whose radon cyclomatic complexity is over "
        "the gate's max-cc (or over the number its baseline entry records). When the same function "
        "is also too long it is reported once, under this rule, with both reasons.",
    },
    "WS302": {
        "name": "long-function",
        "short": "function exceeds the length limit",
        "full": "A function or method (closures included) longer than the gate's max-lines (or than "
        "its baseline entry), counted from the def line (decorators excluded) to its real last line.",
    },
    "GATE-AVG": {
        "name": "average-complexity",
        "short": "average cyclomatic complexity exceeds the limit",
        "full": "The mean radon cyclomatic complexity of all checked functions and methods is over the "
        "gate's max-average. The result points at the setting (config file) or, for a command-line "
        "limit, at the most complex function, the first place to lower the mean.",
    },
}


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


def fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


@lru_cache(maxsize=1)
def project_urls() -> dict[str, str]:
    """wsrefactor's own ``[project.urls]`` (installed metadata), labels lower-cased; empty if unset."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        entries = metadata("wsrefactor").get_all("Project-URL") or []
    except PackageNotFoundError:
        return {}
    urls = {}
    for entry in entries:
        label, _, url = entry.partition(",")
        if url.strip().startswith(("https://", "http://")):
            urls[label.strip().lower()] = url.strip()
    return urls


def information_uri() -> str | None:
    urls = project_urls()
    return next((urls[k] for k in ("homepage", "repository", "source", "documentation") if k in urls), None)


def _rule_help_uri(code: str, name: str) -> str | None:
    """The rule's section of the documentation (README heading ``### WS205 dangling-task``)."""
    docs = project_urls().get("documentation")
    if not docs:
        return None
    return f"{docs.split('#')[0]}#{code.lower()}-{name.lower()}"


def section(docs: str, heading: str = "What it does") -> str:
    """The whole ``## <heading>`` section of a rule's docs as plain paragraphs (code blocks dropped)."""
    match = re.search(rf"^[ \t]*#+[ \t]*{re.escape(heading)}[ \t]*$", docs, re.M | re.I)
    if match is None:
        return ""
    body = re.split(r"^[ \t]*#", docs[match.end():], maxsplit=1, flags=re.M)[0]
    body = re.sub(r"^[ \t]*```.*?^[ \t]*```[^\n]*$", "\n", body, flags=re.M | re.S)  # code blocks
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n[ \t]*\n", body))
    return "\n\n".join(p for p in paragraphs if p)


# --------------------------------------------------------------------------
# bandit's own metadata
# --------------------------------------------------------------------------


def _extra(finding: Finding, key: str) -> Any:
    return dict(finding.extra).get(key)


def bandit_security_severity(severity: str | None, confidence: str | None) -> float:
    """bandit's severity on GitHub's 0-10 scale, lowered by up to one point for low confidence."""
    base = _BANDIT_SEVERITY.get(str(severity).upper(), 5.5)
    return round(base - _BANDIT_CONFIDENCE_PENALTY.get(str(confidence).upper(), 0.5), 1)


def _rst_text(doc: str) -> str:
    """A plugin docstring without RST heading underlines and directives."""
    kept = [
        line for line in inspect.cleandoc(doc).splitlines()
        if not re.fullmatch(r"\s*[=\-~^]{3,}\s*", line) and not line.strip().startswith(".. ")
    ]
    return "\n".join(kept).replace("**", "").replace("``", "`").strip()


@lru_cache(maxsize=256)
def bandit_rule(code: str) -> dict[str, Any] | None:
    """``{name, short, full, help, help_uri, cwe}`` of a bandit check from bandit's own plugin
    metadata; None when bandit does not know the code."""
    from wsrefactor.compat import bandit

    try:
        plugin = bandit.plugins_by_id().get(code)
        blacklist = bandit.blacklist_by_id()
    except ImportError:  # pragma: no cover - bandit is a dependency
        return None
    if plugin is not None:
        info = _plugin_docs(code, plugin)
    elif code in blacklist:
        info = _blacklist_docs(blacklist[code])
    else:
        return None
    return {**info, "help_uri": bandit.doc_url(code)}


def _plugin_docs(code: str, plugin: Any) -> dict[str, Any]:
    """A plugin's title (``B608: Test for SQL injection``), first paragraph and whole docstring."""
    func = plugin.plugin
    text = _rst_text(inspect.getdoc(func) or inspect.getdoc(inspect.getmodule(func)) or "")
    title = re.search(rf"{re.escape(code)}:\s*(.+)", text)
    short = title.group(1).strip() if title else plugin.name.replace("_", " ")
    body = text[title.end():] if title else text
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", body) if p.strip()]
    full = next((p for p in paragraphs if not p.startswith((":", ">>", "|"))), short)
    return {"name": plugin.name, "short": short, "full": full, "help": text or full, "cwe": 0}


def _blacklist_docs(info: Mapping[str, Any]) -> dict[str, Any]:
    """A blacklist check (B3xx calls, B4xx imports): its message and the names it flags."""
    short = str(info["message"])
    qualnames = ", ".join(info.get("qualnames") or ())
    full = f"{short} Flagged: {qualnames}." if qualnames else short
    return {"name": str(info["name"]), "short": short, "full": full, "help": full, "cwe": int(info.get("cwe") or 0)}


def _security_properties(tags: list[str], severity: float, cwe: int) -> dict[str, Any]:
    tags = list(tags) if "security" in tags else [*tags, "security"]
    if cwe:
        tags.append(f"external/cwe/cwe-{cwe}")
    return {"tags": tags, "security-severity": f"{severity:.1f}"}


# --------------------------------------------------------------------------
# findings
# --------------------------------------------------------------------------


def _bandit_descriptor(code: str, samples: Sequence[Finding]) -> dict[str, Any]:
    """A bandit check (``B###``) from bandit's plugin metadata, rated by its worst finding here."""
    sample = samples[0] if samples else None
    info = bandit_rule(code)
    name = info["name"] if info else (sample.name if sample else code)
    fallback = f"bandit check {name}"
    descriptor: dict[str, Any] = {
        "id": code,
        "name": name,
        "shortDescription": {"text": info["short"] if info else fallback},
        "fullDescription": {"text": info["full"] if info else fallback},
        "defaultConfiguration": {"level": level(sample.severity if sample else Severity.WARNING)},
    }
    if info:
        descriptor["helpUri"] = info["help_uri"]
        descriptor["help"] = {"text": info["help"]}
    descriptor["properties"] = _bandit_properties(samples, info["cwe"] if info else 0)
    return descriptor


def _bandit_properties(samples: Sequence[Finding], default_cwe: int) -> dict[str, Any]:
    """Security tags and the worst ``security-severity`` of a bandit check's findings in the run."""
    severity = max(
        (bandit_security_severity(_extra(f, "bandit_severity"), _extra(f, "bandit_confidence")) for f in samples),
        default=5.0,
    )
    cwe = next((int(_extra(f, "cwe") or 0) for f in samples if _extra(f, "cwe")), default_cwe)
    return _security_properties(["bandit"], severity, cwe)


def _sampled_descriptor(code: str, sample: Finding | None) -> dict[str, Any]:
    """Descriptor of a code neither the registry nor bandit knows, built from one of its findings."""
    name = sample.name if sample is not None else code
    descriptor: dict[str, Any] = {
        "id": code,
        "name": name,
        "shortDescription": {"text": name},
        "fullDescription": {"text": name},
        "defaultConfiguration": {"level": level(sample.severity) if sample else "warning"},
    }
    if sample is not None and sample.category:
        descriptor["properties"] = {"tags": [sample.category]}
    return descriptor


def _rule_properties(code: str, rule: Any) -> dict[str, Any]:
    """``tags`` (with ``security`` and the CWE for security rules), ``security-severity`` and
    ``fixSafety`` of a registry rule, each only when the rule has it."""
    props: dict[str, Any] = {}
    tags = [rule.category] if getattr(rule, "category", "") else []
    if code in SECURITY_SEVERITY:
        severity, cwe = SECURITY_SEVERITY[code]
        props.update(_security_properties(tags, severity, cwe))
    elif tags:
        props["tags"] = tags
    fix_safety = getattr(rule, "fix_safety", None)
    if fix_safety is not None:
        props["fixSafety"] = getattr(fix_safety, "value", str(fix_safety))
    return props


def _rule_descriptor(code: str, rule: Any | None, samples: Sequence[Finding]) -> dict[str, Any]:
    if rule is not None:
        return _registry_descriptor(code, rule)
    if (samples and samples[0].category == "bandit") or bandit_rule(code) is not None:
        return _bandit_descriptor(code, samples)
    return _sampled_descriptor(code, samples[0] if samples else None)


def _registry_descriptor(code: str, rule: Any) -> dict[str, Any]:
    """A wsrefactor rule: its summary, whole "What it does", docs and metadata."""
    docs = rule.docs() if hasattr(rule, "docs") else ""
    name = getattr(rule, "name", "") or code
    summary = getattr(rule, "summary", "") or name
    descriptor: dict[str, Any] = {
        "id": code,
        "name": name,
        "shortDescription": {"text": summary},
        "fullDescription": {"text": section(docs) or summary},
        "defaultConfiguration": {"level": level(getattr(rule, "severity", Severity.WARNING))},
    }
    help_uri = _rule_help_uri(code, name)
    if help_uri:
        descriptor["helpUri"] = help_uri
    if docs:
        descriptor["help"] = {"text": docs, "markdown": docs}
    props = _rule_properties(code, rule)
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
                        **({"informationUri": uri} if (uri := information_uri()) else {}),
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {SRCROOT: {"uri": _srcroot_uri()}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def _result_properties(f: Finding) -> dict[str, Any]:
    """The finding's category, the safety of its fix when it has one (also when its edits were
    not planned, so SARIF says what the text summary and JSON say), and bandit's severity and
    confidence for a bandit finding."""
    props: dict[str, Any] = {"category": f.category} if f.category else {}
    if f.fix is not None:
        props["fix"] = {"safety": f.fix.safety.value, "description": f.fix.description, "planned": f.fix.planned}
    if _extra(f, "bandit_severity"):
        props["severity"] = str(_extra(f, "bandit_severity")).lower()
        props["confidence"] = str(_extra(f, "bandit_confidence")).lower()
    return props


def to_sarif(findings: list[Finding], rules: Mapping[str, Any]) -> dict[str, Any]:
    """The SARIF log as a dict (``render`` serialises it)."""
    samples: dict[str, list[Finding]] = {}
    for f in findings:
        samples.setdefault(f.code, []).append(f)
    codes = sorted(samples)
    descriptors = [_rule_descriptor(c, rules.get(c), samples[c]) for c in codes]
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
        props = _result_properties(f)
        if props:
            result["properties"] = props
        results.append(result)
    return _log(descriptors, results)


def render(findings: list[Finding], rules: Mapping[str, Any]) -> str:
    return json.dumps(to_sarif(findings, rules), indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------
# gate
# --------------------------------------------------------------------------


def _gate_functions(result_json: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each offending function once with its ``reasons`` (``functions`` of ``gate.to_json``;
    grouped from ``violations`` for a document written before that key existed)."""
    if "functions" in result_json:
        return list(result_json.get("functions") or [])
    grouped: dict[tuple[Any, Any], dict[str, Any]] = {}
    for v in result_json.get("violations") or []:
        if v.get("metric") == "average":
            continue
        item = grouped.setdefault((v.get("path"), v.get("key") or v.get("name")), {**v, "reasons": []})
        item["reasons"].append(v)
    for item in grouped.values():
        item["message"] = "; ".join(str(r.get("message")) for r in item["reasons"])
    return list(grouped.values())


def gate_items(result_json: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What the gate reports, one item per offending function (``rule``: WS301 when its CC is
    over, else WS302) and one for the average (``rule`` GATE-AVG, located at ``average_location``
    when the command gave one): the shared input of the SARIF, GitHub and JUnit renderers."""
    items = []
    for f in _gate_functions(result_json):
        metrics = [r.get("metric") for r in f.get("reasons") or [f]]
        items.append({**f, "rule": "WS301" if "cc" in metrics else "WS302", "metrics": metrics})
    for v in result_json.get("violations") or []:
        if v.get("metric") == "average":
            where = result_json.get("average_location") or {}
            items.append({**v, "rule": "GATE-AVG", "metrics": ["average"], "path": where.get("path"),
                          "lineno": where.get("line"), "col": where.get("col"), "endline": None})
    return items


def gate_message(v: Mapping[str, Any]) -> str:
    """One line describing a gate item (see :func:`gate_items`), every reason included."""
    if v.get("metric") == "average":
        return f"{v.get('message')}"
    name = v.get("name") or "?"
    details = f"CC {v.get('complexity')} ({v.get('rank')}), length {v.get('length')}"
    return f"{name}: {v.get('message')} [{details}]"


def gate_region(v: Mapping[str, Any]) -> dict[str, int] | None:
    """Region of a gate item: from the ``def`` (radon's 0-based col) to the block's last line."""
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
    descriptor: dict[str, Any] = {
        "id": rule_id,
        "name": spec["name"],
        "shortDescription": {"text": spec["short"]},
        "fullDescription": {"text": spec["full"]},
        "defaultConfiguration": {"level": "error"},
        "help": {"text": spec["full"]},
        "properties": {"tags": ["complexity"]},
    }
    help_uri = _rule_help_uri(rule_id, spec["name"]) if rule_id != "GATE-AVG" else None
    if help_uri:
        descriptor["helpUri"] = help_uri
    return descriptor


def _gate_result(item: Mapping[str, Any], rule_index: Mapping[str, int]) -> dict[str, Any]:
    """One SARIF result: a function with all its reasons, or the average at its location."""
    rule_id = item["rule"]
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": rule_index[rule_id],
        "level": "error",
        "message": {"text": gate_message(item)},
    }
    path = str(item.get("path") or "")  # every item but the average names its file
    if path:
        location: dict[str, Any] = {"artifactLocation": artifact_location(path)}
        region = gate_region(item)
        if region:
            location["region"] = region
        result["locations"] = [{"physicalLocation": location}]
    # The baseline key (qualified name, #N for repeats) carries no line number.
    key = (shown_path(path), str(item.get("key") or item.get("name"))) if rule_id != "GATE-AVG" else ()
    result["partialFingerprints"] = {FINGERPRINT_KEY: fingerprint(rule_id, *key)}
    reasons = [
        {k: r.get(k) for k in ("metric", "value", "limit", "excess", "source") if r.get(k) is not None}
        for r in item.get("reasons") or [item]
    ]
    result["properties"] = {**reasons[0], "reasons": reasons}
    return result


def to_sarif_gate(result_json: Mapping[str, Any]) -> dict[str, Any]:
    items = gate_items(result_json)
    rule_ids = sorted({item["rule"] for item in items})
    index = {r: i for i, r in enumerate(rule_ids)}
    results = [_gate_result(item, index) for item in items]
    log = _log([gate_rule_descriptor(r) for r in rule_ids], results)
    log["runs"][0]["properties"] = {
        "passed": bool(result_json.get("passed", not items)),
        "checked": result_json.get("checked", 0),
        "average": result_json.get("average", 0.0),
        "averageRank": result_json.get("average_rank", ""),
    }
    return log


def render_gate(result_json: dict[str, Any]) -> str:
    return json.dumps(to_sarif_gate(result_json), indent=2, ensure_ascii=False) + "\n"
