"""The exposure graph: well-formed SVG, one node per cell, escaped text, no
script or style attribute, deterministic, capped for large organisations."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

from safepassage.compromise.analysis import (
    Analysis,
    AnalysisWarning,
    CellExposure,
    CellLink,
    Severity,
    WarningKind,
    organisation_analysis,
)
from safepassage.compromise.graph import MAX_NODES, exposure_graph_svg

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # noqa: S314 - our own output


def nodes(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]


def texts(element: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in element.iter(f"{SVG}text")]


def synthetic(count: int, *, links: int = 0) -> Analysis:
    """An analysis with ``count`` cells, banded 0..3 in turn, joined in a chain."""
    analysis = Analysis(organisation_id=uuid.uuid4())
    ids = [uuid.UUID(int=i + 1) for i in range(count)]
    for i, cell_id in enumerate(ids):
        analysis.cells[cell_id] = CellExposure(
            cell_id=cell_id,
            status="active",
            legs=1,
            journeys=1,
            travellers=i,
            cells=1,
            band=i % 4,
            position=(i % 7) / 7,
        )
    for i in range(min(links, count - 1)):
        analysis.links.append(CellLink(a=ids[i], b=ids[i + 1], handoffs=1 + i % 3))
    return analysis


def test_world_graph_has_one_node_per_cell_and_one_edge(world):
    analysis = organisation_analysis(organisation=world.org)
    labels = {cell.pk: f"Cell {i}" for i, cell in enumerate(world.cells)}
    markup = exposure_graph_svg(analysis, labels=labels)
    root = parse(markup)
    assert root.get("viewBox") == "0 0 900 600"
    found = nodes(root)
    assert {g.get("data-cell") for g in found} == {str(c.pk) for c in world.cells}
    edges = [line for line in root.iter(f"{SVG}line") if line.get("class") == "edge"]
    assert len(edges) == 1
    heron = next(g for g in found if g.get("data-cell") == str(world.cells[0].pk))
    assert "Cell 0" in texts(heron)
    assert heron.get("data-band") == str(analysis.cells[world.cells[0].pk].band)
    # The band is written in the node, not only shown by colour.
    assert str(analysis.cells[world.cells[0].pk].band) in texts(heron)


def test_labels_and_links_are_escaped():
    analysis = synthetic(3, links=2)
    first = next(iter(analysis.cells))
    hostile = "<b>&\"'x"
    markup = exposure_graph_svg(
        analysis, labels={first: hostile}, links={first: '/cells/1/?a=1&b="2"'}
    )
    assert "<b>" not in markup
    root = parse(markup)
    assert not list(root.iter(f"{SVG}b"))
    node = next(g for g in nodes(root) if g.get("data-cell") == str(first))
    assert hostile in texts(node)
    assert node.find(f"{SVG}title").text.startswith(hostile)
    (link,) = list(root.iter(f"{SVG}a"))
    assert link.get("href") == '/cells/1/?a=1&b="2"'


def test_no_script_no_style_no_event_handlers():
    markup = exposure_graph_svg(synthetic(12, links=11), labels={})
    root = parse(markup)
    for element in root.iter():
        assert not element.tag.endswith("script")
        assert "style" not in element.attrib
        assert not any(name.startswith("on") for name in element.attrib)


def test_unlabelled_cells_show_the_start_of_their_id():
    analysis = synthetic(2)
    cell_id = next(iter(analysis.cells))
    root = parse(exposure_graph_svg(analysis, labels={}))
    node = next(g for g in nodes(root) if g.get("data-cell") == str(cell_id))
    assert any(str(cell_id)[:6] in t for t in texts(node))


def test_deterministic():
    analysis = synthetic(9, links=8)
    labels = {cell_id: f"N{i}" for i, cell_id in enumerate(analysis.cells)}
    assert exposure_graph_svg(analysis, labels=labels) == exposure_graph_svg(
        analysis, labels=dict(reversed(list(labels.items())))
    )


def test_legend_names_every_band():
    root = parse(exposure_graph_svg(synthetic(1), labels={}))
    legend = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "legend")
    words = texts(legend)
    for band in ("0", "1", "2", "3"):
        assert band in words
    assert {"nothing exposed", "low", "medium", "high"} <= set(words)


def test_warned_cells_carry_a_mark():
    analysis = synthetic(3)
    warned = list(analysis.cells)[1]
    analysis.warnings.append(
        AnalysisWarning(
            kind=WarningKind.BUSY_CELL,
            severity=Severity.MEDIUM,
            count=4,
            cell_ids=frozenset({warned}),
        )
    )
    root = parse(exposure_graph_svg(analysis, labels={}))
    for node in nodes(root):
        marked = "!" in texts(node)
        assert marked == (node.get("data-cell") == str(warned))
    node = next(g for g in nodes(root) if g.get("data-cell") == str(warned))
    assert "too many live journeys" in node.find(f"{SVG}title").text


def test_large_organisations_are_capped_and_aggregated():
    analysis = synthetic(200, links=199)
    root = parse(exposure_graph_svg(analysis, labels={}))
    found = nodes(root)
    assert len(found) == MAX_NODES
    others = [g for g in found if g.get("data-cell") is None]
    assert len(others) == 1
    assert any("171 other cells" in t for t in texts(others[0]))
    # The most exposed are the ones drawn on their own.
    drawn = {uuid.UUID(g.get("data-cell")) for g in found if g.get("data-cell")}
    assert all(analysis.cells[c].band == 3 for c in drawn)
    edges = [line for line in root.iter(f"{SVG}line") if line.get("class") == "edge"]
    assert 0 < len(edges) <= MAX_NODES * (MAX_NODES - 1) // 2


def test_no_cells():
    root = parse(exposure_graph_svg(Analysis(organisation_id=uuid.uuid4()), labels={}))
    assert nodes(root) == []
    assert "No cells yet." in texts(root)
