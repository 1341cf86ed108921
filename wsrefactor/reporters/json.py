"""JSON output: a list of finding objects, the schema documented in the README.

Each object: ``code``, ``name``, ``message``, ``filename`` (relative to the cwd when below it),
``line``, ``column``, ``end_line``, ``end_column`` (1-based), ``severity`` (error/warning/info),
``category``, ``fix`` (null, or ``{"safety", "description", "edits": [{"start": {line, column},
"end": {line, column}, "content"}], "other_files": {path: [edits]}}``).
"""

from __future__ import annotations

import json

from wsrefactor.model import Finding
from wsrefactor.reporters import display_path


def render(findings: list[Finding]) -> str:
    return json.dumps([f.to_json(display_path(f.path)) for f in findings], indent=2) + "\n"
