"""A project rule defined in the tests: it proves the cross-file API (facts, finalize, payloads, new files).

TST900 duplicate-top-level-function: the same top-level function name defined in two or more
modules. Fix (safe): every copy after the first is renamed ``<name>_<module>``, and an index file
``DUPLICATES.txt`` listing the renames is created next to the first copy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import libcst as cst

from wsrefactor.model import FixSafety
from wsrefactor.rule import Invalid, ProjectEdit, ProjectFinding, ProjectRule, Valid


class DuplicateTopLevelFunction(ProjectRule):
    """
    ## What it does
    Test-only rule: a top-level function name defined in several modules.

    ## Why is this bad?
    It proves the project phase.

    ## Example
    ```python
    def helper(): ...
    ```

    ## Use instead
    Distinct names.

    ## Options
    None.
    """

    code = "TST900"
    name = "duplicate-top-level-function"
    category = "test"
    fix_safety = FixSafety.SAFE
    summary = "function defined in several modules"
    tokens = ("def ",)
    VALID = [Valid("def a(): pass\n")]
    INVALID = [Invalid("def a(): pass\n")]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if len(self.ctx.ancestors) == 2:  # module > def
            self.add_fact(node.name.value)

    @classmethod
    def finalize(
        cls, facts: Mapping[str, Sequence[Any]], options: Mapping[str, Any]
    ) -> list[ProjectFinding]:
        where: dict[str, list[str]] = {}
        for path, items in sorted(facts.items()):
            for name in items:
                where.setdefault(name, []).append(path)
        out = []
        for name, paths in sorted(where.items()):
            if len(paths) < 2:
                continue
            first = paths[0]
            renames = []
            payloads = []
            for path in paths[1:]:
                module = os.path.splitext(os.path.basename(path))[0]
                payloads.append((path, (name, f"{name}_{module}")))
                renames.append(f"{path}: {name} -> {name}_{module}")
            edit = ProjectEdit(
                FixSafety.SAFE,
                f"rename the copies of {name}",
                payloads=tuple(payloads),
                new_files=((os.path.join(os.path.dirname(first), f"DUPLICATES_{name}.txt"), "\n".join(renames) + "\n"),),
            )
            for path in paths:
                others = ", ".join(os.path.basename(p) for p in paths if p != path)
                out.append(
                    ProjectFinding(path, 1, 1, 1, 1, f"function {name} also defined in {others}",
                                   fix=edit if path == first else None)
                )
        return out

    @classmethod
    def apply_payload(cls, module: cst.Module, payload: Any, path: str) -> cst.Module:
        old, new = payload

        class Rename(cst.CSTTransformer):
            def leave_FunctionDef(self, original_node, updated_node):
                if updated_node.name.value == old:
                    return updated_node.with_changes(name=cst.Name(new))
                return updated_node

        return module.visit(Rename())
