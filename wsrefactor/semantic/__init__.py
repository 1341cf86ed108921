"""The semantic layer: facts about a module computed once on Python's ``ast``.

- ``analyses``: the engine-owned per-file cache (``ctx.analysis(Kind)``);
- ``imports``: one import resolver (every binding of a name, conditional and relative imports);
- ``scopes``: scopes and bindings (module/class/function, ``self.x = ...``, async context);
- ``model``: ``SemanticModel`` (name lookup, qualified names, string values, type facts);
- ``callgraph``: ``CallGraph``, calls between the module's own functions.

See ``docs/semantic-model.md``.
"""

from wsrefactor.semantic.analyses import Analyses
from wsrefactor.semantic.callgraph import CallGraph
from wsrefactor.semantic.imports import Imports
from wsrefactor.semantic.model import SemanticModel
from wsrefactor.semantic.scopes import Binding, Scope

__all__ = ["Analyses", "Binding", "CallGraph", "Imports", "Scope", "SemanticModel"]
