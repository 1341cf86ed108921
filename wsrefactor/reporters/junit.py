"""JUnit XML for CI dashboards.

One ``<testsuite name="wsrefactor">``; one ``<testcase classname=PATH name=PATH>`` per file with
findings, holding a ``<failure message="CODE message" type="CODE">path:line:col: CODE message
</failure>`` per finding.  With no findings there is a single passing testcase ``wsrefactor`` so
the report is never empty.  Counts follow JUnit: ``tests`` = testcases, ``failures`` = testcases
that failed, ``errors`` = 0; the number of findings is in the ``findings`` property.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # nosec B405 - only used to write XML, never to parse untrusted input
from collections.abc import Mapping
from typing import Any

from wsrefactor.model import Finding
from wsrefactor.reporters.sarif import gate_items, gate_message, shown_path

SUITE = "wsrefactor"

# Characters XML 1.0 cannot carry at all (ElementTree would write them unescaped).
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)


def _suite(cases: list[tuple[str, str, list[tuple[str, str, str]]]], properties: Mapping[str, Any]) -> str:
    """``cases`` = (classname, name, [(message, type, text)]); an empty list is a passing case."""
    failed = sum(1 for _, _, failures in cases if failures)
    suite = ET.Element(
        "testsuite",
        {
            "name": SUITE,
            "tests": str(len(cases)),
            "failures": str(failed),
            "errors": "0",
            "skipped": "0",
        },
    )
    if properties:
        props = ET.SubElement(suite, "properties")
        for key, value in properties.items():
            ET.SubElement(props, "property", {"name": key, "value": _clean(str(value))})
    for classname, name, failures in cases:
        case = ET.SubElement(suite, "testcase", {"classname": _clean(classname), "name": _clean(name)})
        for message, kind, text in failures:
            failure = ET.SubElement(case, "failure", {"message": _clean(message), "type": _clean(kind)})
            failure.text = _clean(text)
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def render(findings: list[Finding], rules: Mapping[str, Any]) -> str:
    by_file: dict[str, list[tuple[str, str, str]]] = {}
    for f in findings:
        path = shown_path(f.path)
        message = f.message or f.name or f.code
        by_file.setdefault(path, []).append(
            (f"{f.code} {message}", f.code, f"{path}:{f.line}:{f.column}: {f.code} {message}")
        )
    cases = [(path, path, failures) for path, failures in by_file.items()]
    if not cases:
        cases = [(SUITE, SUITE, [])]
    return _suite(cases, {"findings": len(findings)})


def render_gate(result_json: dict[str, Any]) -> str:
    """Gate offenders as failures: per file (one per function, WS301/WS302), and ``average`` for
    GATE-AVG."""
    by_case: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for item in gate_items(result_json):
        rule_id = item["rule"]
        message = gate_message(item)
        if rule_id != "GATE-AVG":
            shown = shown_path(item["path"])
            where = f"{shown}:{item.get('lineno')}:{int(item.get('col') or 0) + 1}"
            key = (shown, shown)
        else:
            where = SUITE
            key = (f"{SUITE}.gate", "average")
        by_case.setdefault(key, []).append((f"{rule_id} {message}", rule_id, f"{where}: {rule_id} {message}"))
    cases = [(cls, name, failures) for (cls, name), failures in by_case.items()]
    if not cases:
        cases = [(SUITE, SUITE, [])]
    props = {
        "checked": result_json.get("checked", 0),
        "violations": result_json.get("violation_count", len(result_json.get("violations") or [])),
        "average": result_json.get("average", 0.0),
    }
    return _suite(cases, props)
