"""Finding a fix's node from its span stays linear in the findings: ``Positions.find`` looks the
span up in an index kept up to date as code is generated, instead of scanning every node."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import MetadataWrapper

from wsrefactor.positions import Positions


def test_find_returns_the_first_node_of_the_type_at_the_span_and_visits_each_node_once(monkeypatch):
    source = "".join(f"def f{i}():\n    g(x{i})\n" for i in range(400))
    module = cst.parse_module(source)
    positions = Positions(MetadataWrapper(module, unsafe_skip_copy=True))
    looked_at = 0
    real_add = Positions._add

    def counting_add(self, items):
        nonlocal looked_at
        items = list(items)
        looked_at += len(items)
        real_add(self, items)

    monkeypatch.setattr(Positions, "_add", counting_add)
    for i in range(400):
        line = 2 * i + 2
        call = positions.find((line, 4), (line, 4 + len(f"g(x{i})")), (cst.Call,))
        assert isinstance(call, cst.Call) and cst.Module([]).code_for_node(call) == f"g(x{i})"
        name = positions.find((line, 6), (line, 6 + len(f"x{i}")), (cst.Name,))
        assert isinstance(name, cst.Name) and name.value == f"x{i}"
    assert positions.find((1, 0), (1, 3), (cst.Call,)) is None
    # every generated node indexed exactly once, however many lookups
    assert looked_at == len(positions._started().computed)
