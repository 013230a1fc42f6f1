"""The Jinja2 environment of every cvm_kit page: templates in ``templates/``, autoescaped, one stylesheet."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

from . import fmt


def template_text(name: str) -> str:
    """The text of ``templates/<name>`` (a template, or the stylesheet)."""
    return (resources.files(__package__) / "templates" / name).read_text(encoding="utf-8")


def stylesheet() -> str:
    """The one stylesheet of every cvm_kit page (inlined: pages open offline, alone)."""
    return template_text("style.css")


@lru_cache(maxsize=1)
def environment() -> Any:
    """The Jinja2 environment (compiled templates are cached per process)."""
    import jinja2

    loader = jinja2.FunctionLoader(template_text)
    env = jinja2.Environment(loader=loader, autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update(money=fmt.money, number=fmt.number, percent=fmt.percent)
    env.globals.update(dash=fmt.DASH)
    return env


def render(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` with the stylesheet available as ``css``.

    Every value is escaped unless the template marks it safe; study text
    never reaches a page raw.
    """
    return environment().get_template(template).render(css=stylesheet(), **context)
