"""Every shipped diagram has a layout (DI), and the layout tool never touches semantics."""

from pathlib import Path

import pytest
from lxml import etree

from app.engine.layout import BPMN, BPMNDI, DC, DI, layout_bpmn, missing_di
from app.engine.services import check_files, read_model_files

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "processes").glob("*.bpmn"))
TEST_MODELS = sorted((ROOT / "tests" / "integration" / "bpmn").glob("*.bpmn"))


def semantics(xml: bytes) -> bytes:
    """The document without its diagrams, canonicalised (only namespaces in use, no
    whitespace-only text between elements)."""
    root = etree.fromstring(xml)
    for diagram in root.findall(f"{{{BPMNDI}}}BPMNDiagram"):
        root.remove(diagram)
    for el in root.iter():
        if el.text is not None and not el.text.strip():
            el.text = None
        if el.tail is not None and not el.tail.strip():
            el.tail = None
    return etree.tostring(root, method="c14n", exclusive=True)


def bounds(xml: bytes) -> dict[str, tuple[float, float, float, float]]:
    root = etree.fromstring(xml)
    out = {}
    for shape in root.iter(f"{{{BPMNDI}}}BPMNShape"):
        b = shape.find(f"{{{DC}}}Bounds")
        out[shape.get("bpmnElement")] = tuple(float(b.get(k)) for k in
                                              ("x", "y", "width", "height"))
    return out


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_process_has_a_complete_diagram(path):
    content = path.read_bytes()
    assert missing_di(content) == [], f"run: flask processes layout {path.name}"
    root = etree.fromstring(content)
    nodes = [el.get("id") for el in root.iter(f"{{{BPMN}}}*")
             if etree.QName(el).localname.endswith(("Task", "Event", "Gateway", "callActivity"))]
    assert nodes and set(nodes) <= set(bounds(content))


def test_the_shipped_processes_still_deploy_together():
    bundle = check_files(read_model_files([ROOT / "processes"]))
    assert {"store_opening", "store_closure", "store_inspection", "order_approval",
            "credit_check"} <= set(bundle.process_ids())


@pytest.mark.parametrize("path", SHIPPED + TEST_MODELS, ids=lambda p: p.name)
def test_layout_keeps_the_semantics_and_is_stable(path):
    original = path.read_bytes()
    laid_out = layout_bpmn(original)
    assert semantics(laid_out) == semantics(original)
    assert missing_di(laid_out) == []
    assert layout_bpmn(laid_out) == laid_out  # a second run replaces the diagram by the same
    assert etree.fromstring(laid_out).findall(f"{{{BPMNDI}}}BPMNDiagram")


SAMPLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
                  targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s" />
    <bpmn:userTask id="review" />
    <bpmn:boundaryEvent id="late" attachedToRef="review" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:scriptTask id="remind"><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="reminded" />
    <bpmn:exclusiveGateway id="gw" default="back" />
    <bpmn:subProcess id="archive">
      <bpmn:startEvent id="a_s" />
      <bpmn:task id="a_t" />
      <bpmn:endEvent id="a_e" />
      <bpmn:sequenceFlow id="a_f1" sourceRef="a_s" targetRef="a_t" />
      <bpmn:sequenceFlow id="a_f2" sourceRef="a_t" targetRef="a_e" />
    </bpmn:subProcess>
    <bpmn:endEvent id="e" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="review" />
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="gw" />
    <bpmn:sequenceFlow id="ok" sourceRef="gw" targetRef="archive">
      <bpmn:conditionExpression>ok</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="back" sourceRef="gw" targetRef="review" />
    <bpmn:sequenceFlow id="f3" sourceRef="archive" targetRef="e" />
    <bpmn:sequenceFlow id="f4" sourceRef="late" targetRef="remind" />
    <bpmn:sequenceFlow id="f5" sourceRef="remind" targetRef="reminded" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_layout_runs_left_to_right_with_boundary_events_on_their_host():
    before = missing_di(SAMPLE)
    assert {"s", "review", "late", "gw", "archive", "f1", "back", "a_t", "a_f1"} <= set(before)
    laid_out = layout_bpmn(SAMPLE)
    assert missing_di(laid_out) == []
    assert semantics(laid_out) == semantics(SAMPLE)
    box = bounds(laid_out)
    # Left to right along the flow; the loop back does not push the task to the right.
    assert box["s"][0] < box["review"][0] < box["gw"][0] < box["archive"][0] < box["e"][0]
    # The timer sits on the bottom edge of its task; its path runs below the main one.
    rx, ry, rw, rh = box["review"]
    lx, ly, lw, lh = box["late"]
    assert rx <= lx + lw / 2 <= rx + rw and ly + lh / 2 == ry + rh
    assert box["remind"][1] > ry
    # Shapes (other than boundary events) never overlap.
    solid = {k: v for k, v in box.items() if k not in ("late",) and not k.startswith("a_")}
    for a, (ax, ay, aw, ah) in solid.items():
        for b, (bx, by, bw, bh) in solid.items():
            if a < b:
                assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay, (a, b)
    # Every edge starts and ends on the border of its shapes.
    root = etree.fromstring(laid_out)
    flows = {f.get("id"): (f.get("sourceRef"), f.get("targetRef"))
             for f in root.iter(f"{{{BPMN}}}sequenceFlow")}
    for edge in root.iter(f"{{{BPMNDI}}}BPMNEdge"):
        points = [(float(w.get("x")), float(w.get("y"))) for w in edge.findall(f"{{{DI}}}waypoint")]
        src, tgt = flows[edge.get("bpmnElement")]
        for (px, py), ref in ((points[0], src), (points[-1], tgt)):
            x, y, w, h = box[ref]
            assert x - 1 <= px <= x + w + 1 and y - 1 <= py <= y + h + 1, (edge.get("id"), ref)
        assert all(a[0] == b[0] or a[1] == b[1] for a, b in zip(points, points[1:], strict=False))
    # The sub-process is drawn collapsed, its content on a diagram of its own.
    planes = [p.get("bpmnElement") for p in root.iter(f"{{{BPMNDI}}}BPMNPlane")]
    assert planes == ["p", "archive"]


def test_the_cli_checks_and_lays_out_files(app, tmp_path):
    target = tmp_path / "sample.bpmn"
    target.write_bytes(SAMPLE)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["processes", "layout", "--check", str(tmp_path)])
    assert result.exit_code == 1 and "sample.bpmn: no DI for" in result.output
    assert target.read_bytes() == SAMPLE
    result = runner.invoke(args=["processes", "layout", str(target)])
    assert result.exit_code == 0 and "laid out" in result.output
    assert runner.invoke(args=["processes", "layout", "--check", str(target)]).exit_code == 0
    assert "complete, kept" in runner.invoke(args=["processes", "layout", str(target)]).output
    (tmp_path / "broken.bpmn").write_bytes(b"<not-bpmn/>")
    result = runner.invoke(args=["processes", "layout", str(tmp_path / "broken.bpmn")])
    assert result.exit_code == 1
