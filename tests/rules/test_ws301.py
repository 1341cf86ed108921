"""WS301 complex-function: detection (radon's numbers, radon's blocks), options, and the one
decision both paths read (the extract-method fix itself: ``test_extract_method.py``)."""

from __future__ import annotations

from pathlib import Path

from radon.complexity import cc_rank, cc_visit

from tests.rules._semantic_paths import found_on_both_paths, write
from wsrefactor.config import Config

# complexity: 1 + if + elif + for + and + comprehension with an if (2) + while with else (2) = 9
NINE = """
def nine(a, b):
    if a:
        return 1
    elif b and a:
        return 2
    for x in a:
        pass
    while b:
        b -= 1
    else:
        pass
    return [y for y in a if y]
"""


def _findings(path: Path, config: Config | None = None) -> list[tuple]:
    return found_on_both_paths("WS301", path, config)


def test_reported_on_the_def_line_with_radons_number_and_rank(tmp_path):
    path = write(tmp_path, NINE)
    assert cc_visit(path.read_text())[0].complexity == 9
    assert _findings(path, Config(rule_options={"WS301": {"max-cc": 8}})) == [
        (1, f"function 'nine' has cyclomatic complexity 9 (rank {cc_rank(9)}) > 8")
    ]


def test_at_the_limit_is_not_reported(tmp_path):
    path = write(tmp_path, NINE)
    assert _findings(path, Config(rule_options={"WS301": {"max-cc": 9}})) == []
    assert _findings(path) == []  # the default limit is 10


def test_a_closure_and_a_method_are_measured_on_their_own_bodies(tmp_path):
    path = write(tmp_path, """
        class Service:
            def method(self, a):
                def inner(b):
                    return 1 if b else 2 if a else 3
                return inner(a) if a else None
    """)
    found = _findings(path, Config(rule_options={"WS301": {"max-cc": 1}}))
    # radon counts a function's own body: the closure's two conditionals are not the method's
    assert found == [
        (2, f"function 'method' has cyclomatic complexity 2 (rank {cc_rank(2)}) > 1"),
        (3, f"function 'inner' has cyclomatic complexity 3 (rank {cc_rank(3)}) > 1"),
    ]


def test_a_method_of_a_class_inside_a_function_is_not_a_radon_block(tmp_path):
    """radon drops classes defined in a function body, methods and all; so does WS301."""
    path = write(tmp_path, """
        def factory(flag):
            class Local:
                def busy(self, a, b, c):
                    return (a and b) or (b and c) or (a if c else b)
            return Local
    """)
    assert _findings(path, Config(rule_options={"WS301": {"max-cc": 1}})) == []
