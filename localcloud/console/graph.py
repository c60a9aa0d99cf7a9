"""Draws a state machine's graph from its ASL as inline SVG, each state coloured by its outcome.

Layout is layered: a state's row is its breadth-first depth from ``StartAt``; states that nothing reaches go
in a last row. Every name and label is escaped, since a definition is data like any other.

Maintenance: the states inside a Parallel's branches or a Map's iterator are drawn as the one box of their
Parallel or Map; draw them as nested graphs when the booking workflow starts using either.
"""

from collections import deque
from dataclasses import dataclass
from html import escape
from typing import Any

from localcloud.console.timeline import NOT_REACHED

NODE_WIDTH = 180
NODE_HEIGHT = 44
COLUMN_GAP = 40
ROW_GAP = 70
MARGIN = 30
MAX_NAME = 24
MAX_LABEL = 30
RIGHT_ROOM = 140  # room for edges that loop back around the right-hand side, and their labels

# (fill, stroke) per outcome; the page's legend uses the same classes.
COLOURS = {
    "succeeded": ("#c8e6c9", "#2e7d32"),
    "failed": ("#ffcdd2", "#c62828"),
    "caught": ("#ffe0b2", "#ef6c00"),
    "running": ("#bbdefb", "#1565c0"),
    NOT_REACHED: ("#f2f2f2", "#9e9e9e"),
}


@dataclass(frozen=True)
class Edge:
    """A transition between two states: ``next``, ``choice``, ``default`` or ``catch``."""

    source: str
    target: str
    kind: str
    label: str = ""


def edges(definition: dict[str, Any]) -> list[Edge]:
    """Every transition the definition allows, Choice rules and Catch handlers included."""
    found = []
    for name, state in definition.get("States", {}).items():
        for rule in state.get("Choices", []):
            if "Next" in rule:
                found.append(Edge(name, rule["Next"], "choice", _rule_label(rule)))
        if "Default" in state:
            found.append(Edge(name, state["Default"], "default", "Default"))
        if "Next" in state:
            found.append(Edge(name, state["Next"], "next"))
        for catcher in state.get("Catch", []):
            if "Next" in catcher:
                found.append(Edge(name, catcher["Next"], "catch", "Catch " + ", ".join(catcher.get("ErrorEquals", []))))
    return found


def layers(definition: dict[str, Any]) -> list[list[str]]:
    """States by breadth-first depth from ``StartAt``, in the order they were found; unreachable ones last."""
    states = definition.get("States", {})
    following: dict[str, list[str]] = {name: [] for name in states}
    for edge in edges(definition):
        if edge.target in states:
            following[edge.source].append(edge.target)
    depth: dict[str, int] = {}
    queue: deque[str] = deque()
    start = definition.get("StartAt")
    if start in states:
        depth[start] = 0
        queue.append(start)
    while queue:
        name = queue.popleft()
        for target in following[name]:
            if target not in depth:
                depth[target] = depth[name] + 1
                queue.append(target)
    rows: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name in depth:  # dicts keep insertion order, which is the breadth-first order
        rows[depth[name]].append(name)
    unreachable = [name for name in states if name not in depth]
    return rows + ([unreachable] if unreachable else [])


def render_svg(definition: dict[str, Any], outcomes: dict[str, str]) -> str:
    """The graph as an ``<svg>`` element; ``outcomes`` maps state names to outcomes, missing means not reached."""
    rows = layers(definition)
    states = definition.get("States", {})
    widest = max((len(row) for row in rows), default=1)
    content_width = 2 * MARGIN + widest * NODE_WIDTH + (widest - 1) * COLUMN_GAP
    width = content_width + RIGHT_ROOM
    height = 2 * MARGIN + len(rows) * NODE_HEIGHT + max(len(rows) - 1, 0) * ROW_GAP
    places: dict[str, tuple[int, int, int]] = {}  # name -> (left, top, row)
    for row_index, row in enumerate(rows):
        row_width = len(row) * NODE_WIDTH + (len(row) - 1) * COLUMN_GAP
        left = (content_width - row_width) // 2
        for column, name in enumerate(row):
            places[name] = (
                left + column * (NODE_WIDTH + COLUMN_GAP),
                MARGIN + row_index * (NODE_HEIGHT + ROW_GAP),
                row_index,
            )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="state machine graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    ]
    parts.extend(
        _edge_svg(edge, places) for edge in edges(definition) if edge.source in places and edge.target in places
    )
    for name, (left, top, _) in places.items():
        parts.append(_node_svg(name, states[name].get("Type", ""), outcomes.get(name, NOT_REACHED), left, top))
    parts.append("</svg>")
    return "\n".join(parts)


def _node_svg(name: str, kind: str, outcome: str, left: int, top: int) -> str:
    fill, stroke = COLOURS.get(outcome, COLOURS[NOT_REACHED])
    centre = left + NODE_WIDTH // 2
    return (
        f'<g class="state outcome-{escape(outcome)}" data-state="{escape(name)}" data-outcome="{escape(outcome)}">'
        f"<title>{escape(name)} ({escape(kind)}): {escape(outcome)}</title>"
        f'<rect x="{left}" y="{top}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="8" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="2"/>'
        f'<text x="{centre}" y="{top + 19}" text-anchor="middle" class="state-name">'
        f"{escape(_shorten(name, MAX_NAME))}</text>"
        f'<text x="{centre}" y="{top + 35}" text-anchor="middle" class="state-kind">{escape(kind)}</text>'
        "</g>"
    )


def _edge_svg(edge: Edge, places: dict[str, tuple[int, int, int]]) -> str:
    source_left, source_top, source_row = places[edge.source]
    target_left, target_top, target_row = places[edge.target]
    if target_row > source_row:
        x1, y1 = source_left + NODE_WIDTH // 2, source_top + NODE_HEIGHT
        x2, y2 = target_left + NODE_WIDTH // 2, target_top
        bend = (y2 - y1) // 2
        path = f"M{x1},{y1} C{x1},{y1 + bend} {x2},{y2 - bend} {x2},{y2}"
        # Labels sit near the source, where edges leaving one Choice are still apart from each other.
        label_x, label_y = x1 + (x2 - x1) * 0.3, y1 + (y2 - y1) * 0.3
    else:
        # A loop back or a jump within a row goes around the right-hand side, out of the way of the others.
        x1, y1 = source_left + NODE_WIDTH, source_top + NODE_HEIGHT // 2
        x2, y2 = target_left + NODE_WIDTH, target_top + NODE_HEIGHT // 2
        reach = max(x1, x2) + COLUMN_GAP
        path = f"M{x1},{y1} C{reach},{y1} {reach},{y2} {x2},{y2}"
        label_x, label_y = reach, (y1 + y2) / 2
    label = ""
    if edge.label:
        label = (
            f'<text x="{label_x:.0f}" y="{label_y:.0f}" class="edge-label">'
            f"<title>{escape(edge.label)}</title>{escape(_shorten(edge.label, MAX_LABEL))}</text>"
        )
    return f'<g class="edge edge-{edge.kind}"><path d="{path}" fill="none" marker-end="url(#arrow)"/>{label}</g>'


def _rule_label(rule: dict[str, Any]) -> str:
    """A short reading of one Choice rule, such as ``$.detail-type StringEquals OnRestaurantBooked``."""
    if "Condition" in rule:
        return str(rule["Condition"])
    operator = next((key for key in rule if key not in ("Variable", "Next", "Comment", "Assign", "Output")), "")
    value = rule.get(operator)
    shown = value if isinstance(value, str | int | float | bool) else "…"
    return " ".join(str(part) for part in (rule.get("Variable", ""), operator, shown) if part != "")


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
