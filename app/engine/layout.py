"""Diagram layout (BPMN DI) for BPMN files that have none, so modelers draw them readably.

``layout_bpmn(xml)`` returns the same document with one ``bpmndi:BPMNDiagram`` computed
left to right: every flow node gets a shape (boundary events sit on the bottom edge of their
host), every sequence and message flow an edge with orthogonal waypoints, participants and
lanes a band each; an embedded sub-process is drawn collapsed with its content on a diagram
of its own (bpmn-js opens it by drill-down). The semantic part of the file is left byte for
byte as it was: the diagram is inserted as text before the closing root tag, an earlier
diagram is replaced, and missing namespace declarations are added to the root tag.

``missing_di(xml)`` names the elements a diagram lacks (flow nodes, sequence flows,
participants, lanes); ``flask processes layout`` runs both over files.

The layout: a node's column is its longest path from a start (flows that close a loop are
ignored, a boundary event's flows count from its host); its row is its lane, and within a
lane, nodes sharing a column are stacked, keeping a node on the row of the node it follows.
"""

import re
from dataclasses import dataclass, field

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
DI_PREFIXES = {"bpmndi": BPMNDI, "dc": DC, "di": DI}

TASKS = {"task", "userTask", "serviceTask", "scriptTask", "businessRuleTask", "sendTask",
         "receiveTask", "manualTask", "callActivity", "subProcess", "transaction",
         "adHocSubProcess"}
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
          "boundaryEvent"}
GATEWAYS = {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway",
            "complexGateway"}
FLOW_NODES = TASKS | EVENTS | GATEWAYS
SUB_PROCESSES = {"subProcess", "transaction", "adHocSubProcess"}

COLUMN = 170       # distance between column centres
ROW = 130          # height of one row in a lane
POOL_HEADER = 30   # the pool's name band (left)
LANE_HEADER = 30   # the lane's name band (left)
MARGIN = 20        # space left of the first column inside a lane
POOL_GAP = 40      # between two pools
ORIGIN = (160, 80)
SIZES = {"task": (100, 80), "event": (36, 36), "gateway": (50, 50)}


class LayoutError(ValueError):
    """The file cannot be laid out (not BPMN, or a DI prefix bound elsewhere)."""


def _local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _kind(local: str) -> str:
    return "task" if local in TASKS else "event" if local in EVENTS else "gateway"


@dataclass
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h


@dataclass
class Plane:
    """One diagram: its plane element, shapes (id → box, extras) and edges (id → points)."""

    element: str
    shapes: list = field(default_factory=list)   # (element id, Box, attrs dict)
    edges: list = field(default_factory=list)    # (element id, [(x, y), ...])


def _parse(xml: bytes):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             remove_blank_text=False)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise LayoutError(f"not well-formed XML: {exc}") from None
    if root.tag != f"{{{BPMN}}}definitions":
        raise LayoutError("not a BPMN 2.0 definitions document")
    return root


# -- graph and placement ------------------------------------------------------------------------

def _columns(nodes: list, flows: list, host_of: dict) -> dict[str, int]:
    """Longest-path column per node; flows closing a cycle (found by DFS) are ignored."""
    def owner(ref):
        return host_of.get(ref, ref)

    succ: dict[str, list[str]] = {n: [] for n in nodes}
    pred_count = {n: 0 for n in nodes}
    for _fid, src, tgt in flows:
        s, t = owner(src), tgt
        if s in succ and t in succ and s != t:
            succ[s].append(t)
    order = list(nodes)
    starts = [n for n in order if not any(n in succ[m] for m in order)] or order[:1]
    back, state = set(), {}

    for root in [*starts, *order]:
        if root in state:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    for s in succ:
        for t in succ[s]:
            if (s, t) not in back:
                pred_count[t] += 1
    column = {n: 0 for n in nodes}
    ready = [n for n in order if pred_count[n] == 0]
    while ready:
        n = ready.pop(0)
        for t in succ[n]:
            if (n, t) in back:
                continue
            column[t] = max(column[t], column[n] + 1)
            pred_count[t] -= 1
            if pred_count[t] == 0:
                ready.append(t)
    return column


def _rows(nodes, flows, host_of, column, lane_of) -> dict[str, int]:
    """Row within its lane per node: follow the predecessor's row when that cell is free."""
    preds: dict[str, list[tuple[str, bool]]] = {n: [] for n in nodes}
    for _fid, src, tgt in flows:
        if tgt in preds:
            host = host_of.get(src)
            preds[tgt].append((host or src, host is not None))
    row, taken = {}, set()
    for n in sorted(nodes, key=lambda n: (column[n], nodes.index(n))):
        wanted = 0
        for p, from_boundary in preds[n]:
            if p in row and lane_of.get(p) == lane_of.get(n) and column[p] < column[n]:
                wanted = row[p] + (1 if from_boundary else 0)
                break
        r = wanted
        while (lane_of.get(n), column[n], r) in taken:
            r += 1
        row[n] = r
        taken.add((lane_of.get(n), column[n], r))
    return row


def _hits(points, boxes, ignore) -> bool:
    """Whether an orthogonal polyline crosses any box but those ignored (5 px clearance)."""
    for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
        lo_x, hi_x, lo_y, hi_y = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
        for key, b in boxes.items():
            if key in ignore:
                continue
            if lo_x < b.right + 5 and hi_x > b.x - 5 and lo_y < b.bottom + 5 and hi_y > b.y - 5:
                return True
    return False


class _Router:
    """Orthogonal waypoints: the simplest route that crosses no shape, else one through the
    free channels between columns and between rows (which no shape occupies)."""

    def __init__(self, boxes, cell, col_left, gap_y):
        self.boxes, self.cell, self.col_left, self.gap_y = boxes, cell, col_left, gap_y
        self.used_vertices: set[tuple[str, str]] = set()

    def route(self, src_id, tgt_id, src_kind, host_id, forward):
        src, tgt = self.boxes[src_id], self.boxes[tgt_id]
        ignore = {src_id, tgt_id, host_id}
        candidates = []
        if host_id is not None:
            x, y = src.cx, src.bottom
            if tgt.cy > y + 10:
                candidates.append([(x, y), (x, tgt.cy), (tgt.x, tgt.cy)])
            candidates.append(self._channel_back(src_id, tgt_id, start=(x, y), host=host_id)
                              if not forward else
                              self._channel_forward(host_id, tgt_id, start=(x, y), down=True))
        elif forward:
            if abs(src.cy - tgt.cy) < 1:
                candidates.append([(src.right, src.cy), (tgt.x, tgt.cy)])
            if src_kind == "gateway" and abs(src.cy - tgt.cy) >= 1:
                side = "top" if tgt.cy < src.cy else "bottom"
                if (src_id, side) not in self.used_vertices:
                    y = src.y if side == "top" else src.bottom
                    route = [(src.cx, y), (src.cx, tgt.cy), (tgt.x, tgt.cy)]
                    candidates.append((route, side))
            for mid in (self.col_left(self.cell[src_id][1] + 1), self.col_left(self.cell[tgt_id][1])):
                candidates.append([(src.right, src.cy), (mid, src.cy), (mid, tgt.cy),
                                   (tgt.x, tgt.cy)])
            candidates.append(self._channel_forward(src_id, tgt_id, start=(src.right, src.cy)))
        else:
            if tgt.bottom < src.y:
                candidates.append([(src.cx, src.y), (src.cx, tgt.cy), (tgt.right, tgt.cy)])
            elif tgt.y > src.bottom:
                candidates.append([(src.cx, src.bottom), (src.cx, tgt.cy), (tgt.right, tgt.cy)])
            candidates.append(self._channel_back(src_id, tgt_id, start=(src.cx, src.bottom)))
        for candidate in candidates:
            route, vertex = candidate if isinstance(candidate, tuple) else (candidate, None)
            if candidate is candidates[-1] or not _hits(route, self.boxes, ignore):
                if vertex:
                    self.used_vertices.add((src_id, vertex))
                return _simplify(route)
        return _simplify(candidates[-1])

    def _channel_forward(self, src_id, tgt_id, start, down=False):
        tgt = self.boxes[tgt_id]
        s_lane, s_col, s_row = self.cell[src_id]
        t_lane, t_col, t_row = self.cell[tgt_id]
        x1, x2 = self.col_left(s_col + 1), self.col_left(t_col)
        if down:  # leaving a boundary event: drop into the gap below the host's row first
            y0 = self.gap_y(s_lane, s_row + 1)
            head = [start, (start[0], y0), (x1, y0)]
        else:
            head = [start, (x1, start[1])]
        if x1 == x2:
            return [*head, (x1, tgt.cy), (tgt.x, tgt.cy)]
        below = tgt.cy >= head[-1][1]
        y = self.gap_y(t_lane, t_row if below else t_row + 1)
        return [*head, (x1, y), (x2, y), (x2, tgt.cy), (tgt.x, tgt.cy)]

    def _channel_back(self, src_id, tgt_id, start, host=None):
        tgt = self.boxes[tgt_id]
        s_lane, _s_col, s_row = self.cell[host or src_id]
        _t_lane, t_col, _t_row = self.cell[tgt_id]
        y = self.gap_y(s_lane, s_row + 1)
        x = self.col_left(t_col + 1)
        return [start, (start[0], y), (x, y), (x, tgt.cy), (tgt.right, tgt.cy)]


def _simplify(points):
    """Drop repeated points and points in the middle of a straight run."""
    out = []
    for p in points:
        if out and out[-1] == p:
            continue
        if len(out) >= 2 and (out[-2][0] == out[-1][0] == p[0] or out[-2][1] == out[-1][1] == p[1]):
            out[-1] = p
            continue
        out.append(p)
    return out


def _container_parts(container):
    """Flow nodes (without boundary events), boundary events by host, sequence flows."""
    nodes, boundaries, flows, kinds = [], {}, [], {}
    for el in container:
        local = _local(el)
        if local in FLOW_NODES and el.get("id"):
            kinds[el.get("id")] = local
            if local == "boundaryEvent":
                boundaries.setdefault(el.get("attachedToRef"), []).append(el.get("id"))
            else:
                nodes.append(el.get("id"))
        elif local == "sequenceFlow" and el.get("id"):
            flows.append((el.get("id"), el.get("sourceRef"), el.get("targetRef")))
    return nodes, boundaries, flows, kinds


def _lanes(container) -> list[tuple[str, list[str]]]:
    """Leaf lanes in document order with their flow node refs."""
    out = []

    def walk(lane_set):
        for lane in lane_set.findall(f"{{{BPMN}}}lane"):
            child = lane.find(f"{{{BPMN}}}childLaneSet")
            if child is not None and child.findall(f"{{{BPMN}}}lane"):
                walk(child)
            else:
                refs = [(r.text or "").strip() for r in lane.findall(f"{{{BPMN}}}flowNodeRef")]
                out.append((lane.get("id"), refs))

    for lane_set in container.findall(f"{{{BPMN}}}laneSet"):
        walk(lane_set)
    return out


def _layout_container(container, plane: Plane, top: float, left: float,
                      pool_id: str | None, sub_planes: list) -> float:
    """Lay out one process / sub-process from (left, top); return the bottom."""
    nodes, boundaries, flows, kinds = _container_parts(container)
    host_of = {b: host for host, bs in boundaries.items() for b in bs}
    lanes = _lanes(container)
    lane_of = {ref: lane_id for lane_id, refs in lanes for ref in refs}
    lane_ids = [lane_id for lane_id, _refs in lanes]
    if any(n not in lane_of for n in nodes) and lanes:
        lane_ids = [*lane_ids, None]  # nodes no lane names go to a band of their own
    if not lane_ids:
        lane_ids = [None]
    column = _columns(nodes, flows, host_of)
    row = _rows(nodes, flows, host_of, column, {n: lane_of.get(n) for n in nodes})
    columns = max(column.values(), default=0) + 1
    inner_left = left + (POOL_HEADER + LANE_HEADER if pool_id or lanes else 0)
    width = inner_left - left + MARGIN + columns * COLUMN + 20

    band_top, boxes = {}, {}
    y = top
    for lane_id in lane_ids:
        members = [n for n in nodes if lane_of.get(n) == lane_id]
        rows_used = max((row[n] for n in members), default=0) + 1
        # a boundary event hanging below the last row needs room for its exit flow
        band_top[lane_id] = (y, rows_used * ROW + 20)
        y += rows_used * ROW + 20
    bottom = y
    for n in nodes:
        kind = _kind(kinds[n])
        w, h = SIZES[kind]
        lane_y, _height = band_top[lane_of.get(n)]
        cx = inner_left + MARGIN + column[n] * COLUMN + COLUMN / 2
        cy = lane_y + 10 + row[n] * ROW + ROW / 2
        boxes[n] = Box(cx - w / 2, cy - h / 2, w, h)
    for host, bs in boundaries.items():
        if host not in boxes:
            continue
        hb = boxes[host]
        for k, b in enumerate(bs):
            cx = hb.x + hb.w - 20 - k * 40
            boxes[b] = Box(cx - 18, hb.bottom - 18, 36, 36)

    if pool_id:
        plane.shapes.append((pool_id, Box(left, top, width, bottom - top),
                             {"isHorizontal": "true"}))
    if lanes:
        for lane_id in lane_ids:
            if lane_id is None:
                continue
            lane_y, height = band_top[lane_id]
            plane.shapes.append((lane_id, Box(left + POOL_HEADER, lane_y,
                                              width - POOL_HEADER, height),
                                 {"isHorizontal": "true"}))
    for n in [*nodes, *host_of]:
        if n not in boxes:
            continue
        attrs = {}
        if kinds[n] == "exclusiveGateway":
            attrs["isMarkerVisible"] = "true"
        if kinds[n] in SUB_PROCESSES:
            attrs["isExpanded"] = "false"
        plane.shapes.append((n, boxes[n], attrs))
    cell = {n: (lane_of.get(n), column[n], row[n]) for n in nodes}
    router = _Router(boxes, cell,
                     lambda c: inner_left + MARGIN + c * COLUMN,
                     lambda lane, r: band_top[lane][0] + 10 + r * ROW)
    for fid, src, tgt in flows:
        if src not in boxes or tgt not in boxes or tgt not in cell:
            continue
        host = host_of.get(src)
        if host is None and src not in cell:
            continue
        forward = column.get(tgt, 0) > column.get(host or src, 0)
        plane.edges.append((fid, router.route(src, tgt, _kind(kinds[src]), host, forward)))

    for el in container:
        if _local(el) in SUB_PROCESSES and el.get("id"):
            sub = Plane(element=el.get("id"))
            _layout_container(el, sub, ORIGIN[1], ORIGIN[0], None, sub_planes)
            sub_planes.append(sub)
    return bottom


def _planes(root) -> list[Plane]:
    processes = {p.get("id"): p for p in root.findall(f"{{{BPMN}}}process")}
    collaboration = root.find(f"{{{BPMN}}}collaboration")
    planes, subs = [], []
    if collaboration is not None:
        main = Plane(element=collaboration.get("id"))
        top, drawn = ORIGIN[1], set()
        for participant in collaboration.findall(f"{{{BPMN}}}participant"):
            process = processes.get(participant.get("processRef"))
            if process is None:  # a black-box pool
                main.shapes.append((participant.get("id"), Box(ORIGIN[0], top, 600, 100),
                                    {"isHorizontal": "true"}))
                top += 100 + POOL_GAP
                continue
            drawn.add(process.get("id"))
            top = _layout_container(process, main, top, ORIGIN[0], participant.get("id"),
                                    subs) + POOL_GAP
        _message_flows(collaboration, main)
        planes.append(main)
        for pid, process in processes.items():
            if pid not in drawn:  # a process no participant shows: a diagram of its own
                extra = Plane(element=pid)
                _layout_container(process, extra, ORIGIN[1], ORIGIN[0], None, subs)
                planes.append(extra)
    else:
        for pid, process in processes.items():
            plane = Plane(element=pid)
            _layout_container(process, plane, ORIGIN[1], ORIGIN[0], None, subs)
            planes.append(plane)
    return planes + subs


def _message_flows(collaboration, plane: Plane) -> None:
    boxes = {eid: box for eid, box, _attrs in plane.shapes}
    for flow in collaboration.findall(f"{{{BPMN}}}messageFlow"):
        src, tgt = boxes.get(flow.get("sourceRef")), boxes.get(flow.get("targetRef"))
        if src is None or tgt is None:
            continue
        down = tgt.cy > src.cy
        y1, y2 = (src.bottom, tgt.y) if down else (src.y, tgt.bottom)
        mid = round((y1 + y2) / 2)
        plane.edges.append((flow.get("id"), [(src.cx, y1), (src.cx, mid), (tgt.cx, mid),
                                             (tgt.cx, y2)]))


# -- serialisation --------------------------------------------------------------------------

def _num(v: float) -> str:
    return str(int(round(v)))


def _diagram_xml(planes: list[Plane], prefixes: dict[str, str], base_id: str) -> str:
    bp, dc, di = prefixes["bpmndi"], prefixes["dc"], prefixes["di"]
    out = []
    for i, plane in enumerate(planes):
        suffix = "" if i == 0 else f"_{i}"
        out.append(f'  <{bp}:BPMNDiagram id="{base_id}_diagram{suffix}">')
        out.append(f'    <{bp}:BPMNPlane id="{base_id}_plane{suffix}" '
                   f'bpmnElement="{plane.element}">')
        for eid, box, attrs in plane.shapes:
            extra = "".join(f' {k}="{v}"' for k, v in attrs.items())
            out.append(f'      <{bp}:BPMNShape id="{eid}_di" bpmnElement="{eid}"{extra}>'
                       f'<{dc}:Bounds x="{_num(box.x)}" y="{_num(box.y)}" '
                       f'width="{_num(box.w)}" height="{_num(box.h)}" /></{bp}:BPMNShape>')
        for eid, points in plane.edges:
            wps = "".join(f'<{di}:waypoint x="{_num(x)}" y="{_num(y)}" />' for x, y in points)
            out.append(f'      <{bp}:BPMNEdge id="{eid}_di" bpmnElement="{eid}">{wps}'
                       f'</{bp}:BPMNEdge>')
        out.append(f"    </{bp}:BPMNPlane>")
        out.append(f"  </{bp}:BPMNDiagram>")
    return "\n".join(out) + "\n"


_DIAGRAM_RE = r"[ \t]*<{p}:BPMNDiagram\b.*?</{p}:BPMNDiagram>[ \t]*\r?\n?"


def layout_bpmn(xml: bytes) -> bytes:
    """The document with a computed diagram (any earlier diagram is replaced)."""
    root = _parse(xml)
    text = xml.decode("utf-8")
    prefixes, declare = {}, []
    for wanted, uri in DI_PREFIXES.items():
        bound = [p for p, u in root.nsmap.items() if u == uri and p]
        if bound:
            prefixes[wanted] = bound[0]
        elif root.nsmap.get(wanted) not in (None, uri):
            raise LayoutError(f"the prefix '{wanted}' is bound to another namespace")
        else:
            prefixes[wanted] = wanted
            declare.append(f'xmlns:{wanted}="{uri}"')
    # drop earlier diagrams, whatever prefix they used
    for p in {p for p, u in root.nsmap.items() if u == BPMNDI and p}:
        text = re.sub(_DIAGRAM_RE.format(p=re.escape(p)), "", text, flags=re.S)
    planes = _planes(root)
    base = root.get("id") or "definitions"
    diagram = _diagram_xml(planes, prefixes, base)
    closing = text.rstrip().rfind("</")
    if closing < 0:
        raise LayoutError("no closing root tag")
    text = text[:closing] + diagram + text[closing:]
    if declare:
        match = re.search(r"<([\w.-]+:)?definitions\b", text)
        insert = match.end()
        text = text[:insert] + "".join(f" {d}" for d in declare) + text[insert:]
    return text.encode("utf-8")


def missing_di(xml: bytes) -> list[str]:
    """Ids of flow nodes, sequence/message flows, participants and lanes without DI, and of
    boundary events not drawn on their host's border."""
    root = _parse(xml)
    shapes = {s.get("bpmnElement"): s for s in root.iter(f"{{{BPMNDI}}}BPMNShape")}
    edges = {e.get("bpmnElement"): e for e in root.iter(f"{{{BPMNDI}}}BPMNEdge")}
    missing = []
    for el in root.iter(f"{{{BPMN}}}*"):
        local, eid = _local(el), el.get("id")
        if local in FLOW_NODES or local in ("participant", "lane"):
            if eid not in shapes:
                missing.append(eid)
            elif local == "boundaryEvent" and not _on_border(shapes[eid],
                                                             shapes.get(el.get("attachedToRef"))):
                missing.append(eid)
        elif local in ("sequenceFlow", "messageFlow"):
            edge = edges.get(eid)
            if edge is None or len(edge.findall(f"{{{DI}}}waypoint")) < 2:
                missing.append(eid)
    return missing


def _bounds(shape):
    b = shape.find(f"{{{DC}}}Bounds") if shape is not None else None
    if b is None:
        return None
    return Box(*(float(b.get(k, 0)) for k in ("x", "y", "width", "height")))


def _on_border(shape, host_shape) -> bool:
    box, host = _bounds(shape), _bounds(host_shape)
    if box is None or host is None:
        return False
    inside_x = host.x - box.w / 2 <= box.cx <= host.right + box.w / 2
    inside_y = host.y - box.h / 2 <= box.cy <= host.bottom + box.h / 2
    near = min(abs(box.cx - host.x), abs(box.cx - host.right), abs(box.cy - host.y),
               abs(box.cy - host.bottom)) <= 1
    return inside_x and inside_y and near
