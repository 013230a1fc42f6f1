"""Reading ``project.yaml`` defensively: every problem located, memory and time bounded.

PyYAML's ``safe_load`` already refuses code (``!!python/...`` tags), but it
keeps the last of two equal keys without a word, builds aliases that expand to
billions of values ("billion laughs"), and recurses once per nesting level
(a file nested 20,000 deep raises ``RecursionError``). :func:`load_yaml`
composes the document with a nesting limit, walks the node graph once
(iteratively) to find duplicate keys and over-expanding aliases, each located
by key path and line, and only then constructs Python data.

Examples
--------
>>> data, problems, lines = load_yaml("a: 1\\nb: [2, 3]\\n")
>>> data, problems, lines[("b", 1)]
({'a': 1, 'b': [2, 3]}, [], 2)
>>> _, problems, _ = load_yaml("a: 1\\nb: 2\\na: 3\\n")
>>> print(problems[0])
a: key 'a' appears twice in one mapping (lines 1 and 3); PyYAML would keep only the last: keep one
"""

from __future__ import annotations

import re
import reprlib
from dataclasses import dataclass
from typing import Any

import yaml

#: Deepest nesting of mappings and lists accepted (a study needs about 4).
MAX_DEPTH = 64
#: Most values aliases may add beyond those written in the file.
MAX_ALIAS_EXPANSION = 100_000

_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60
_short.maxlist = _short.maxtuple = _short.maxdict = _short.maxset = 4
_short.maxlevel = 2


def short_repr(value: Any) -> str:
    """A bounded repr of any value (never walks a huge or deeply nested input)."""
    return _short.repr(value)


@dataclass(frozen=True)
class YamlProblem:
    """One located problem of a YAML document (the key path, its line, what is wrong)."""

    where: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class _TooDeep(yaml.YAMLError):
    def __init__(self, mark: Any) -> None:
        super().__init__(f"nested more than {MAX_DEPTH} levels deep")
        self.problem = f"nested more than {MAX_DEPTH} levels deep; a study model needs a few levels only"
        self.problem_mark = mark


# YAML 1.2's core schema, not PyYAML's 1.1 one: there `yes`/`on` were true, 01200 octal (640), 1:30 base 60
# (90), and a date a date object (an impossible one, 2027-02-30, a traceback). Here they stay text, so a
# number or date field holding one gets a located error; dates are read from text by the schema.
_IMPLICIT: dict[str, list[tuple[str, Any]]] = {}
for _tag, _regexp, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("tag:yaml.org,2002:float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                                r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
):
    for _ch in _first:
        _IMPLICIT.setdefault(_ch, []).append((_tag, re.compile(_regexp)))


def _core_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text)  # 01200 is 1200, as written


def _core_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).lower()
    return float(text.replace(".inf", "inf").replace(".nan", "nan"))


def _core(cls: Any) -> Any:
    """``cls`` with the core schema's implicit types (the class attributes PyYAML reads them from)."""
    cls.yaml_implicit_resolvers = {k: list(v) for k, v in _IMPLICIT.items()}
    cls.yaml_constructors = dict(cls.yaml_constructors)
    cls.yaml_constructors["tag:yaml.org,2002:int"] = _core_int
    cls.yaml_constructors["tag:yaml.org,2002:float"] = _core_float
    return cls


@_core
class _Loader(yaml.SafeLoader):
    """SafeLoader whose composer refuses nesting beyond :data:`MAX_DEPTH` (it recurses per level)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def render_path(parts: tuple[Any, ...], ident: str | None = None) -> str:
    """``('elements', 2, 'status')`` -> ``elements[2].status`` (plus `` (id=x)`` when given)."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else ("." if out else "") + str(p)
    return out + (f" ({ident})" if ident else "")


def _ident(node: yaml.Node) -> str | None:
    """``id=x`` or ``name=x`` of a mapping node (how messages name a list item)."""
    if not isinstance(node, yaml.MappingNode):
        return None
    for want in ("id", "name"):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == want and isinstance(v, yaml.ScalarNode):
                text = v.value if len(v.value) <= 60 else v.value[:57] + "..."
                return f"{want}={text}"
    return None


def _key_text(node: yaml.Node) -> str:
    return node.value if isinstance(node, yaml.ScalarNode) else f"<{node.id}>"


def _expanded_sizes(root: yaml.Node) -> dict[int, int]:
    """Values each node stands for once every alias is expanded (memoised, iterative)."""
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in size:
            continue
        if isinstance(node, yaml.ScalarNode):
            size[id(node)] = 1
            continue
        kids = [c for kv in node.value for c in kv] if isinstance(node, yaml.MappingNode) else list(node.value)
        if done:
            size[id(node)] = 1 + sum(size.get(id(k), 1) for k in kids)
        else:
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in size)
    return size


def _walk(root: yaml.Node) -> tuple[list[YamlProblem], dict[tuple[Any, ...], int], bool]:
    """Duplicate keys and alias expansion, each located; the line of every key path; whether aliases over-expand."""
    problems: list[YamlProblem] = []
    lines: dict[tuple[Any, ...], int] = {(): root.start_mark.line + 1}
    seen: set[int] = set()
    aliases: list[tuple[tuple[Any, ...], str | None, int, yaml.Node]] = []  # path, ident, line, node
    own = 0
    # (node, path, ident of the nearest list item, line where this value is written)
    stack: list[tuple[yaml.Node, tuple[Any, ...], str | None, int]] = [(root, (), None, root.start_mark.line + 1)]
    while stack:
        node, path, ident, line = stack.pop()
        if id(node) in seen:  # a second appearance: an alias of an anchored node
            if not isinstance(node, yaml.ScalarNode):
                aliases.append((path, ident, line, node))
            continue
        seen.add(id(node))
        own += 1
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            kids = []
            for k, v in node.value:
                own += 1
                kline = k.start_mark.line + 1
                if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                    key = (k.tag, k.value)
                    if key in first:
                        problems.append(YamlProblem(
                            render_path(path + (k.value,), ident), kline,
                            f"key {short_repr(k.value)} appears twice in one mapping (lines {first[key]} and {kline}); "
                            "PyYAML would keep only the last: keep one"))
                    else:
                        first[key] = kline
                sub = path + (_key_text(k),)
                lines.setdefault(sub, kline)
                kids.append((v, sub, ident, kline))
            stack.extend(reversed(kids))
        elif isinstance(node, yaml.SequenceNode):
            kids = []
            for i, v in enumerate(node.value):
                sub = path + (i,)
                vline = v.start_mark.line + 1
                lines.setdefault(sub, vline)
                kids.append((v, sub, _ident(v) or ident, vline))
            stack.extend(reversed(kids))
    bomb = False
    if aliases:
        size = _expanded_sizes(root)
        total = size[id(root)]
        if total - own > MAX_ALIAS_EXPANSION:
            bomb = True
            path, ident, line, node = max(aliases, key=lambda a: size.get(id(a[3]), 0))
            problems.append(YamlProblem(
                render_path(path, ident), line,
                f"YAML aliases (*name) expand the file to {total:,} values, more than {MAX_ALIAS_EXPANSION:,} beyond "
                f"the {own:,} written (an alias bomb?); the alias here alone stands for {size.get(id(node), 0):,}: "
                "write the values out instead"))
    return problems, lines, bomb


_C_LOADER = _core(type("_CLoader", (yaml.CSafeLoader,), {})) if hasattr(yaml, "CSafeLoader") else None


def _loader(text: str) -> Any:
    """libyaml's C parser when present (ten times faster) after an iterative nesting check, else :class:`_Loader`."""
    c_loader = getattr(yaml, "CSafeLoader", None)
    if c_loader is None or _C_LOADER is None:
        return _Loader(text)
    depth = 0
    # the C composer recurses once per level as well: count the levels on the event stream first
    try:
        for event in yaml.parse(text, Loader=c_loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _TooDeep(event.start_mark)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.MarkedYAMLError as exc:  # libyaml's own limit (1,000 levels) may stop its scanner first
        if "nesting depth" in str(exc.problem or ""):
            raise _TooDeep(exc.problem_mark) from None
        raise
    return _C_LOADER(text)


def load_yaml(text: str) -> tuple[Any, list[YamlProblem], dict[tuple[Any, ...], int]]:
    """Parse YAML text safely: (data, problems, line of each key path).

    ``data`` is None when the document cannot be used at all (malformed,
    nested too deep, an alias bomb); duplicate keys are reported but the data
    is still returned (the last value kept) so other checks can run.

    Raises
    ------
    yaml.YAMLError
        For malformed YAML (with ``problem_mark``), also for nesting beyond
        :data:`MAX_DEPTH`.
    """
    loader = _loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, [], {}
        problems, lines, bomb = _walk(root)
        if bomb:  # constructing is cheap (shared objects) but every later walk over it is not
            return None, problems, lines
        return loader.construct_document(root), problems, lines
    finally:
        loader.dispose()
