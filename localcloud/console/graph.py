"""Draws a state machine's graph from its ASL as inline SVG, each state coloured by its outcome.

Layout is layered: a state's row is its breadth-first depth from ``StartAt``; states that nothing reaches go
in a last row. Every name and label is escaped, since a definition is data like any other.

Maintenance: the states inside a Parallel's branches or a Map's iterator are drawn as the one box of their
Parallel or Map; draw them as nested graphs when the booking workflow starts using either.
"""

from collections import deque
from dataclasses import dataclass
from html import escape
from typing import Any, NamedTuple

from localcloud.console.timeline import NOT_REACHED

NODE_WIDTH = 180
NODE_HEIGHT = 44
COLUMN_GAP = 60
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
                found.append(Edge(name, catcher["Next"], "catch", ", ".join(catcher.get("ErrorEquals", []))))
    return _merged(found)


def _merged(found: list[Edge]) -> list[Edge]:
    """One edge per source, target and kind: several Catchers leading to one state share a line and a label."""
    labels: dict[tuple[str, str, str], list[str]] = {}
    for edge in found:
        labels.setdefault((edge.source, edge.target, edge.kind), []).append(edge.label)
    merged = []
    for (source, target, kind), parts in labels.items():
        label = ", ".join(part for part in parts if part)
        merged.append(Edge(source, target, kind, f"Catch {label}" if kind == "catch" else label))
    return merged


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
    if isinstance(start, str) and start in states:
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


class _Box(NamedTuple):
    left: int
    top: int
    row: int

    @property
    def centre(self) -> int:
        return self.left + NODE_WIDTH // 2


def render_svg(definition: dict[str, Any], outcomes: dict[str, str]) -> str:
    """The graph as an ``<svg>`` element; ``outcomes`` maps state names to outcomes, missing means not reached."""
    rows = layers(definition)
    states = definition.get("States", {})
    widest = max((len(row) for row in rows), default=1)
    content_width = 2 * MARGIN + widest * NODE_WIDTH + (widest - 1) * COLUMN_GAP
    width = content_width + RIGHT_ROOM
    height = 2 * MARGIN + len(rows) * NODE_HEIGHT + max(len(rows) - 1, 0) * ROW_GAP
    boxes: dict[str, _Box] = {}
    for row_index, row in enumerate(rows):
        row_width = len(row) * NODE_WIDTH + (len(row) - 1) * COLUMN_GAP
        left = (content_width - row_width) // 2
        for column, name in enumerate(row):
            boxes[name] = _Box(
                left + column * (NODE_WIDTH + COLUMN_GAP), MARGIN + row_index * (NODE_HEIGHT + ROW_GAP), row_index
            )
    drawn = [edge for edge in edges(definition) if edge.source in boxes and edge.target in boxes]
    ports = _ports(drawn, boxes)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="state machine graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    ]
    drawn_edges = [_edge_svg(edge, boxes, ports[index]) for index, edge in enumerate(drawn)]
    parts.extend(line for line, _ in drawn_edges)
    for name, box in boxes.items():
        parts.append(_node_svg(name, states[name].get("Type", ""), outcomes.get(name, NOT_REACHED), box))
    parts.extend(label for _, label in drawn_edges if label)  # last, so that no box hides a label
    parts.append("</svg>")
    return "\n".join(parts)


def _ports(drawn: list[Edge], boxes: dict[str, _Box]) -> list[tuple[float, float, float]]:
    """Where each downward edge leaves its source and enters its target, and where along it its label sits.

    Edges leaving one state spread along its bottom in the order of their targets, and edges entering one
    state along its top in the order of their sources, so that no two lines share an end.
    """
    leaving: dict[str, list[int]] = {}
    entering: dict[str, list[int]] = {}
    for index, edge in enumerate(drawn):
        if boxes[edge.target].row > boxes[edge.source].row:
            leaving.setdefault(edge.source, []).append(index)
            entering.setdefault(edge.target, []).append(index)
    ports = [(0.0, 0.0, 0.3) for _ in drawn]
    for source, indexes in leaving.items():
        indexes.sort(key=lambda index: boxes[drawn[index].target].centre)
        for order, index in enumerate(indexes):
            # Labels of neighbouring edges sit at different heights, so that they do not run into each other.
            along = 0.3 if len(indexes) == 1 else (0.35 if order % 2 == 0 else 0.65)
            ports[index] = (_spread(boxes[source], order, len(indexes)), 0.0, along)
    for target, indexes in entering.items():
        indexes.sort(key=lambda index: boxes[drawn[index].source].centre)
        for order, index in enumerate(indexes):
            start, _, along = ports[index]
            ports[index] = (start, _spread(boxes[target], order, len(indexes)), along)
    return ports


def _spread(box: _Box, order: int, count: int) -> float:
    return box.left + NODE_WIDTH * (order + 1) / (count + 1)


def _node_svg(name: str, kind: str, outcome: str, box: _Box) -> str:
    fill, stroke = COLOURS.get(outcome, COLOURS[NOT_REACHED])
    return (
        f'<g class="state outcome-{escape(outcome)}" data-state="{escape(name)}" data-outcome="{escape(outcome)}">'
        f"<title>{escape(name)} ({escape(kind)}): {escape(outcome)}</title>"
        f'<rect x="{box.left}" y="{box.top}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="8" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="2"/>'
        f'<text x="{box.centre}" y="{box.top + 19}" text-anchor="middle" class="state-name">'
        f"{escape(_shorten(name, MAX_NAME))}</text>"
        f'<text x="{box.centre}" y="{box.top + 35}" text-anchor="middle" class="state-kind">{escape(kind)}</text>'
        "</g>"
    )


def _edge_svg(edge: Edge, boxes: dict[str, _Box], port: tuple[float, float, float]) -> tuple[str, str]:
    """The edge's line, and its label (empty when it has none)."""
    source, target = boxes[edge.source], boxes[edge.target]
    if target.row > source.row:
        (x1, x2, along), y1, y2 = port, source.top + NODE_HEIGHT, target.top
        bend = (y2 - y1) / 2
        curve = ((x1, y1), (x1, y1 + bend), (x2, y2 - bend), (x2, y2))
        label_x, label_y = _bezier(curve, along)
    elif target.row == source.row:
        # Side by side: a straight line between the facing sides; a Catch runs a little lower than the rest.
        rightwards = target.left > source.left
        x1 = source.left + NODE_WIDTH if rightwards else source.left
        x2 = target.left if rightwards else target.left + NODE_WIDTH
        y1 = y2 = source.top + NODE_HEIGHT // 2 + (8 if edge.kind == "catch" else -8)
        curve = ((x1, y1), (x1, y1), (x2, y2), (x2, y2))
        label_x, label_y = (x1 + x2) / 2, source.top - 6  # above the row: the gap between boxes is too narrow
    else:
        # A loop back goes around the right-hand side, out of the way of the other lines.
        x1, y1 = source.left + NODE_WIDTH, source.top + NODE_HEIGHT // 2
        x2, y2 = target.left + NODE_WIDTH, target.top + NODE_HEIGHT // 2
        reach = max(x1, x2) + COLUMN_GAP
        curve = ((x1, y1), (reach, y1), (reach, y2), (x2, y2))
        label_x, label_y = reach, (y1 + y2) / 2
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = curve
    path = f"M{ax:.0f},{ay:.0f} C{bx:.0f},{by:.0f} {cx:.0f},{cy:.0f} {dx:.0f},{dy:.0f}"
    line = f'<path class="edge edge-{edge.kind}" d="{path}" fill="none" marker-end="url(#arrow)"/>'
    if not edge.label:
        return line, ""
    label = (
        f'<text x="{label_x:.0f}" y="{label_y:.0f}" text-anchor="middle" class="edge-label edge-{edge.kind}">'
        f"<title>{escape(edge.label)}</title>{escape(_short_label(edge))}</text>"
    )
    return line, label


def _bezier(curve: tuple[tuple[float, float], ...], t: float) -> tuple[float, float]:
    """The point at ``t`` (0 to 1) along a cubic Bézier curve."""
    weights = ((1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3)
    return (
        sum(weight * x for weight, (x, _) in zip(weights, curve, strict=True)),
        sum(weight * y for weight, (_, y) in zip(weights, curve, strict=True)),
    )


def _rule_label(rule: dict[str, Any]) -> str:
    """A short reading of one Choice rule: ``= OnRestaurantBooked`` for an equality, else operator and value.

    The variable is left out: a Choice's rules usually test the same one, and the label must stay short.
    """
    if "Condition" in rule:
        return str(rule["Condition"])
    operator = next((key for key in rule if key not in ("Variable", "Next", "Comment", "Assign", "Output")), "")
    value = rule.get(operator)
    if isinstance(value, list):
        return f"{operator} ({len(value)} rules)"
    if operator.endswith("Equals") and not operator.endswith("PathEquals"):
        return f"= {value}"
    return f"{operator} {value}" if isinstance(value, str | int | float | bool) else operator


def _short_label(edge: Edge) -> str:
    """What fits beside a line: a Catch names its first error and counts the rest; the full list is a tooltip."""
    if edge.kind != "catch":
        return _shorten(edge.label, MAX_LABEL)
    errors = edge.label.removeprefix("Catch ").split(", ")
    if "States.ALL" in errors:
        return "Catch all"
    more = f" +{len(errors) - 1}" if len(errors) > 1 else ""
    return "Catch " + _shorten(errors[0], MAX_LABEL - len(more) - 6) + more


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
