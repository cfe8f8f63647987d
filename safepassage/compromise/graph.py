"""A server-rendered SVG of the organisation's cells joined by handoffs,
each cell coloured and numbered by its exposure band.

The markup is safe to insert into a page as it is: every piece of text is
escaped here, there is no script and no ``style`` attribute (colours and
fonts are SVG presentation attributes, which the content security policy
allows), and the layout is deterministic (the same analysis draws the same
picture). Meant for a laptop screen: a 900 by 600 view box, scaled by the page.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .analysis import Analysis, CellExposure

WIDTH, HEIGHT = 900, 600
CENTRE = (345.0, 300.0)
RADIUS = 180.0
# Beyond this many cells the least exposed are drawn as one node.
MAX_NODES = 30
# Up to this many nodes the labels are horizontal; beyond, they follow the radius.
HORIZONTAL_LABELS = 14
LABEL_CHARS = 16

# (fill, text colour on it): contrast of at least 4.5:1 between the two, and
# lightness rising with the band so the order survives greyscale and common
# colour blindness; the band number is written in every node too.
BAND_COLOURS = {
    0: ("#e5e7eb", "#111827"),
    1: ("#fde68a", "#111827"),
    2: ("#f97316", "#111827"),
    3: ("#991b1b", "#ffffff"),
}
EDGE_COLOUR = "#4b5563"
OTHERS = "others"


def band_labels() -> dict[int, str]:
    return {
        0: _("nothing exposed"),
        1: _("low"),
        2: _("medium"),
        3: _("high"),
    }


@dataclass
class _Node:
    key: str  # a cell id, or OTHERS
    label: str
    band: int
    cells: int  # how many cells it stands for
    tooltip: str
    href: str | None
    warned: bool
    x: float = 0.0
    y: float = 0.0
    angle: float = 0.0


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "\u2026"


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def _order(entry: CellExposure, label: str) -> tuple:
    position = entry.position if entry.position is not None else 2.0
    return (position, label.casefold(), str(entry.cell_id))


def _cell_tooltip(label: str, entry: CellExposure, warnings: list[str]) -> str:
    lines = [
        label,
        _("Exposure: %(band)s") % {"band": band_labels()[entry.band]},
        ngettext("%(n)d live journey", "%(n)d live journeys", entry.live_journeys)
        % {"n": entry.live_journeys},
        ngettext("%(n)d traveller", "%(n)d travellers", entry.travellers) % {"n": entry.travellers},
        ngettext("%(n)d place", "%(n)d places", entry.places) % {"n": entry.places},
        ngettext("%(n)d other cell", "%(n)d other cells", entry.cells) % {"n": entry.cells},
        *warnings,
    ]
    return "\n".join(lines)


def _nodes(
    analysis: Analysis, labels: dict[uuid.UUID, str], links: dict[uuid.UUID, str], max_nodes: int
) -> tuple[list[_Node], dict[uuid.UUID, str]]:
    """The nodes to draw and, for each cell, the key of the node it is drawn in."""
    entries = list(analysis.cells.values())

    def label_of(cell_id: uuid.UUID) -> str:
        return labels.get(cell_id) or _("cell %(id)s") % {"id": str(cell_id)[:6]}

    shown = entries
    rest: list[CellExposure] = []
    if len(entries) > max_nodes:
        # The most exposed first; ties broken by label and id, so the cut is stable.
        ranked = sorted(
            entries,
            key=lambda e: (-e.band, -e.reach, label_of(e.cell_id).casefold(), str(e.cell_id)),
        )
        shown, rest = ranked[: max_nodes - 1], ranked[max_nodes - 1 :]
    shown = sorted(shown, key=lambda e: _order(e, label_of(e.cell_id)))
    titles: dict[uuid.UUID, list[str]] = {}
    for warning in analysis.warnings:
        for cell_id in warning.cell_ids:
            titles.setdefault(cell_id, []).append(warning.title)
    nodes: list[_Node] = []
    where: dict[uuid.UUID, str] = {}
    for entry in shown:
        label = label_of(entry.cell_id)
        warned = titles.get(entry.cell_id, [])
        nodes.append(
            _Node(
                key=str(entry.cell_id),
                label=label,
                band=entry.band,
                cells=1,
                tooltip=_cell_tooltip(label, entry, warned),
                href=links.get(entry.cell_id),
                warned=bool(warned),
            )
        )
        where[entry.cell_id] = str(entry.cell_id)
    if rest:
        band = max(e.band for e in rest)
        label = ngettext("%(n)d other cell", "%(n)d other cells", len(rest)) % {"n": len(rest)}
        nodes.append(
            _Node(
                key=OTHERS,
                label=label,
                band=band,
                cells=len(rest),
                tooltip=label
                + "\n"
                + _("The most exposed of them: %(band)s") % {"band": band_labels()[band]},
                href=None,
                warned=any(e.cell_id in titles for e in rest),
            )
        )
        for entry in rest:
            where[entry.cell_id] = OTHERS
    count = len(nodes)
    for index, node in enumerate(nodes):
        # From the left, over the top, to the right and back along the bottom:
        # cells early in their journeys come first.
        node.angle = math.pi + (index + 0.5) * 2 * math.pi / count if count > 1 else math.pi
        if count == 1:
            node.x, node.y = CENTRE
        else:
            node.x = CENTRE[0] + RADIUS * math.cos(node.angle)
            node.y = CENTRE[1] + RADIUS * math.sin(node.angle)
    return nodes, where


def exposure_graph_svg(
    analysis: Analysis,
    *,
    labels: dict[uuid.UUID, str],
    links: dict[uuid.UUID, str] | None = None,
    max_nodes: int = MAX_NODES,
) -> SafeString:
    """SVG markup of the cells (nodes) and the handoffs between them (edges).

    ``labels`` maps cell ids to the names to show (decrypted by the caller;
    escaped here); a cell without one is shown by the start of its id.
    ``links`` optionally maps cell ids to URLs the nodes link to. With more
    than ``max_nodes`` cells, the least exposed are drawn as one node.
    """
    links = links or {}
    nodes, where = _nodes(analysis, labels, links, max_nodes)
    by_key = {node.key: node for node in nodes}
    small = len(nodes) > HORIZONTAL_LABELS
    node_radius = 11.0 if small else 17.0
    font = 11 if small else 13

    edges: dict[tuple[str, str], int] = {}
    for link in analysis.links:
        a, b = where.get(link.a), where.get(link.b)
        if a is None or b is None or a == b:
            continue
        key = (a, b) if a < b else (b, a)
        edges[key] = edges.get(key, 0) + link.handoffs

    title = _("Cells and the handoffs between them")
    desc = _(
        "Each circle is a cell, numbered and coloured by what its compromise would "
        "expose; each line joins two cells that meet at handoffs."
    )
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="exposure-graph" role="img" aria-labelledby="exposure-graph-title '
        f'exposure-graph-desc" font-family="sans-serif">',
        f'<title id="exposure-graph-title">{escape(title)}</title>',
        f'<desc id="exposure-graph-desc">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    if not nodes:
        out.append(
            f'<text x="{WIDTH // 2}" y="{HEIGHT // 2}" text-anchor="middle" font-size="16" '
            f'fill="#374151">{escape(_("No cells yet."))}</text>'
        )

    out.append('<g class="edges">')
    for (a, b), handoffs in sorted(edges.items()):
        na, nb = by_key[a], by_key[b]
        width = 1.5 + min(handoffs, 6)
        tip = ngettext("%(n)d handoff", "%(n)d handoffs", handoffs) % {"n": handoffs}
        out.append(
            f'<line class="edge" x1="{_fmt(na.x)}" y1="{_fmt(na.y)}" x2="{_fmt(nb.x)}" '
            f'y2="{_fmt(nb.y)}" stroke="{EDGE_COLOUR}" stroke-width="{_fmt(width)}" '
            f'stroke-opacity="0.7" stroke-linecap="round">'
            f"<title>{escape(na.label)} \u2013 {escape(nb.label)}: {escape(tip)}</title></line>"
        )
    out.append("</g>")

    out.append('<g class="nodes">')
    for node in nodes:
        fill, ink = BAND_COLOURS[node.band]
        cell_attr = "" if node.key == OTHERS else f' data-cell="{escape(node.key)}"'
        body = [
            f'<g class="node"{cell_attr} data-band="{node.band}">',
            f"<title>{escape(node.tooltip)}</title>",
            f'<circle cx="{_fmt(node.x)}" cy="{_fmt(node.y)}" r="{_fmt(node_radius)}" '
            f'fill="{fill}" stroke="#111827" stroke-width="{2.5 if node.warned else 1}"/>',
            f'<text x="{_fmt(node.x)}" y="{_fmt(node.y + font * 0.36)}" text-anchor="middle" '
            f'font-size="{font}" font-weight="bold" fill="{ink}">{node.band}</text>',
        ]
        if node.warned:
            # On the inner side of the node, where no label is drawn.
            bx = node.x - node_radius * math.cos(node.angle)
            by = node.y - node_radius * math.sin(node.angle)
            body.append(
                f'<circle cx="{_fmt(bx)}" cy="{_fmt(by)}" r="7" fill="#111827"/>'
                f'<text x="{_fmt(bx)}" y="{_fmt(by + 4)}" text-anchor="middle" font-size="11" '
                f'font-weight="bold" fill="#ffffff">!</text>'
            )
        body.append(_label(node, node_radius, font, radial=small))
        body.append("</g>")
        markup = "".join(body)
        if node.href:
            markup = f'<a href="{escape(node.href)}">{markup}</a>'
        out.append(markup)
    out.append("</g>")
    out.append(_legend())
    out.append("</svg>")
    return mark_safe("\n".join(out))  # noqa: S308 - every text above is escaped


def _label(node: _Node, node_radius: float, font: int, *, radial: bool) -> str:
    text = escape(_short(node.label))
    gap = node_radius + 6
    cos, sin = math.cos(node.angle), math.sin(node.angle)
    if radial:
        x, y = node.x + gap * cos, node.y + gap * sin
        degrees = math.degrees(node.angle) % 360
        anchor = "start"
        if 90 < degrees < 270:  # left half: flip so the text is not upside down
            degrees -= 180
            anchor = "end"
        return (
            f'<text class="label" x="{_fmt(x)}" y="{_fmt(y + font * 0.35)}" '
            f'text-anchor="{anchor}" font-size="{font}" fill="#111827" '
            f'transform="rotate({_fmt(degrees)} {_fmt(x)} {_fmt(y)})">{text}</text>'
        )
    x, y = node.x + gap * cos, node.y + gap * sin + font * 0.35
    anchor = "middle"
    if cos > 0.3:
        anchor = "start"
    elif cos < -0.3:
        anchor = "end"
    if sin < -0.7:
        y -= font * 0.4
    elif sin > 0.7:
        y += font * 0.6
    return (
        f'<text class="label" x="{_fmt(x)}" y="{_fmt(y)}" text-anchor="{anchor}" '
        f'font-size="{font}" fill="#111827">{text}</text>'
    )


def _legend() -> str:
    x, y = 690, 40
    parts = [
        '<g class="legend">',
        f'<text x="{x}" y="{y}" font-size="14" font-weight="bold" fill="#111827">'
        f"{escape(_('Exposure if compromised'))}</text>",
    ]
    for band, word in band_labels().items():
        fill, ink = BAND_COLOURS[band]
        cy = y + 30 + band * 32
        parts.append(
            f'<circle cx="{x + 12}" cy="{cy}" r="12" fill="{fill}" stroke="#111827" '
            f'stroke-width="1"/><text x="{x + 12}" y="{cy + 5}" text-anchor="middle" '
            f'font-size="13" font-weight="bold" fill="{ink}">{band}</text>'
            f'<text x="{x + 32}" y="{cy + 5}" font-size="13" fill="#111827">{escape(word)}</text>'
        )
    cy = y + 30 + 4 * 32
    parts.append(
        f'<circle cx="{x + 12}" cy="{cy}" r="7" fill="#111827"/><text x="{x + 12}" '
        f'y="{cy + 4}" text-anchor="middle" font-size="11" font-weight="bold" '
        f'fill="#ffffff">!</text><text x="{x + 32}" y="{cy + 5}" font-size="13" '
        f'fill="#111827">{escape(_("has warnings"))}</text>'
    )
    cy += 32
    parts.append(
        f'<line x1="{x}" y1="{cy}" x2="{x + 24}" y2="{cy}" stroke="{EDGE_COLOUR}" '
        f'stroke-width="4" stroke-linecap="round"/><text x="{x + 32}" y="{cy + 5}" '
        f'font-size="13" fill="#111827">{escape(_("handoffs (thicker: more)"))}</text>'
    )
    parts.append("</g>")
    return "".join(parts)
