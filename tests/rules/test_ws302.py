"""WS302 long-function: the real span from ``def`` to the last line, the limit option, radon's set
of blocks, and the one decision both paths read (the fix: ``test_extract_method.py``)."""

from __future__ import annotations

from tests.rules._semantic_paths import found_on_both_paths, write
from wsrefactor.config import Config


def _findings(path, limit: int) -> list[tuple]:
    return found_on_both_paths("WS302", path, Config(rule_options={"WS302": {"max-lines": limit}}))


def test_length_is_the_real_span_even_when_the_body_ends_in_an_assert_or_a_def(tmp_path):
    """radon's own end is where the last statement starts (an ``assert`` or a nested ``def``
    leaves it at the ``def`` line); WS302 counts to the definition's real last line."""
    path = write(tmp_path, """
        @decorator
        async def test_long(client):
            response = await client.get(
                "/items",
            )
            assert (
                response.status_code
                == 200
            )

        def outer():
            x = 1
            def tail():
                return (
                    x
                )
    """)
    assert _findings(path, 5) == [
        (2, "function 'test_long' is 8 lines long > 5"),
        (11, "function 'outer' is 6 lines long > 5"),
    ]


def test_at_the_limit_is_not_reported_and_decorators_do_not_count(tmp_path):
    path = write(tmp_path, """
        @one
        @two
        def five(a):
            a += 1
            a += 2
            a += 3
            return a
    """)
    assert _findings(path, 5) == []
    assert _findings(path, 4) == [(3, "function 'five' is 5 lines long > 4")]


def test_a_method_of_a_class_inside_a_function_is_not_a_radon_block(tmp_path):
    path = write(tmp_path, """
        def factory():
            class Local:
                def long(self):
                    a = 1
                    b = 2
                    return a + b
            return Local
    """)
    assert _findings(path, 4) == [(1, "function 'factory' is 7 lines long > 4")]
