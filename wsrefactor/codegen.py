"""Code generation from templates, shared by the rules that write code (WS103, WS303-WS305)."""

from __future__ import annotations

import functools
import json
from typing import Any


def render(template: str, /, **values: Any) -> str:
    """Render ``rules/templates/<name>`` (jinja2 is imported only when a fix is generated).

    Templates may ``include`` others.
    """
    return _environment().get_template(template).render(**values)


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    """One jinja2 environment per process: it compiles each template once (building it per call
    recompiled the template for every group of copies, a third of a project phase's time)."""
    import importlib.resources

    import jinja2

    folder = importlib.resources.files("wsrefactor.rules") / "templates"

    def load(name: str) -> str:
        return (folder / name).read_text(encoding="utf-8")

    # The templates generate Python source, not HTML: escaping would corrupt the code (a quote
    # would come out as ``&#34;``), so autoescape must stay off.
    env = jinja2.Environment(  # nosec B701 - renders Python code, never HTML
        loader=jinja2.FunctionLoader(load),
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["pystr"] = json.dumps  # a double-quoted literal Python reads back the same
    return env
