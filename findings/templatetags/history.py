"""A configuration as a collapsible tree of ``<details>``, rendered server-side.

The tree is a flat list of open / leaf / close nodes that one template loop
turns into nested lists: no recursive include per node, so a large policy
stays fast. AWS data is hostile: every key and value reaches the page
through autoescaping, and the size limits below keep a megabyte policy from
becoming a page of tens of megabytes (the rest is cut, with a note).
"""

import json
from dataclasses import dataclass, field
from typing import Any

from django import template

from findings.history import html_length

register = template.Library()

#: Keys, items and values shown in the tree; past it, "n more" per level.
MAX_NODES = 2_000
#: Nesting shown; deeper containers are summarised on one line.
MAX_DEPTH = 16
#: Characters of one string value shown.
MAX_STRING = 1_000
#: Characters of HTML the raw pretty-printed JSON may take once escaped.
MAX_RAW = 500_000
#: Characters of HTML the tree's keys and values may take once escaped; past
#: it, "n more" as for MAX_NODES. Escaping multiplies text full of ``<`` or
#: ``"`` four to six times, so counting nodes alone does not bound the page.
MAX_TREE_HTML = 300_000
#: Arrays longer than this start collapsed.
LARGE_ARRAY = 10
#: Containers this deep start collapsed.
OPEN_DEPTH = 3


@dataclass(frozen=True, slots=True)
class Node:
    kind: str  # "open", "leaf", "close" or "more"
    key: str = ""
    is_index: bool = False  # the key is an array index, not a name
    type: str = ""  # object, array, string, number, boolean, null, empty
    text: str = ""
    expanded: bool = False


@dataclass
class _Walk:
    budget: int = MAX_NODES
    text_budget: int = MAX_TREE_HTML
    nodes: list[Node] = field(default_factory=list)
    truncated: bool = False

    def container(self, key: str, is_index: bool, value: Any, depth: int) -> None:
        is_list = isinstance(value, list)
        size = f"{len(value)} item{'s' * (len(value) != 1)}"
        if not is_list:
            size = f"{len(value)} key{'s' * (len(value) != 1)}"
        if depth >= MAX_DEPTH:
            self.truncated = True
            text = f"{'[…]' if is_list else '{…}'} {size}, too deep to show here"
            self.nodes.append(Node("leaf", key, is_index, "empty", text))
            return
        expanded = depth < OPEN_DEPTH and not (is_list and len(value) > LARGE_ARRAY)
        kind = "array" if is_list else "object"
        self.nodes.append(Node("open", key, is_index, kind, size, expanded))
        self.children(value, depth + 1)
        self.nodes.append(Node("close"))

    def children(self, value: dict | list, depth: int) -> None:
        # Sorted: jsonb returns keys shortest first, which reads as random.
        items = enumerate(value) if isinstance(value, list) else sorted(value.items())
        for n, (key, inner) in enumerate(items):
            if self.budget <= 0 or self.text_budget <= 0:
                self.truncated = True
                self.nodes.append(Node("more", text=f"{len(value) - n} more"))
                return
            self.budget -= 1
            self.value(str(key), isinstance(value, list), inner, depth)

    def value(self, key: str, is_index: bool, value: Any, depth: int) -> None:
        self.text_budget -= html_length(key)
        if isinstance(value, dict | list) and value:
            self.container(key, is_index, value, depth)
        else:
            node = Node("leaf", key, is_index, *_scalar(value))
            self.text_budget -= html_length(node.text)
            self.nodes.append(node)


def _scalar(value: Any) -> tuple[str, str]:
    """(type, text) of a leaf, as JSON would write it."""
    if value is None:
        return "null", "null"
    if isinstance(value, bool):
        return "boolean", "true" if value else "false"
    if isinstance(value, int | float):
        return "number", json.dumps(value)
    if isinstance(value, dict | list):
        return "empty", "{}" if isinstance(value, dict) else "[]"
    text = str(value)
    if len(text) > MAX_STRING:
        more = len(text) - MAX_STRING
        shown = json.dumps(text[:MAX_STRING], ensure_ascii=False)[:-1]
        return "string", f"{shown}… ({more:,} more characters)"
    return "string", json.dumps(text, ensure_ascii=False)


def tree_nodes(value: Any) -> tuple[list[Node], bool]:
    """The tree's nodes and whether anything was left out."""
    walk = _Walk()
    if isinstance(value, dict | list) and value:
        walk.children(value, 0)
    else:
        walk.value("", False, value, 0)
    return walk.nodes, walk.truncated


@register.inclusion_tag("findings/_json_tree.html")
def json_tree(value: Any, label: str = "Configuration") -> dict:
    """The tree, and the raw pretty-printed JSON in a collapsed ``<details>``."""
    nodes, truncated = tree_nodes(value)
    raw = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    shown = _cut_html(raw, MAX_RAW)
    return {
        "nodes": nodes,
        "truncated": truncated,
        "raw": shown,
        "raw_cut": len(raw) - len(shown),
        "label": label,
    }


def _cut_html(text: str, limit: int) -> str:
    """A prefix of ``text`` that takes at most ``limit`` characters escaped."""
    text = text[:limit]
    while (size := html_length(text)) > limit:
        text = text[: len(text) * limit // size]
    return text
