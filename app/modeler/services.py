"""Modeler rules: which process keys are valid, and what an edit changes against a version."""

import re

from flask_babel import gettext as _
from lxml import etree

from app.engine.parsing import parse_xml

# A process key is a BPMN process id: an XML name (a letter or '_', then letters, digits,
# '_', '-' or '.'), at most as long as the stored key.
_PROCESS_KEY = re.compile(r"^[^\W\d][\w.\-]{0,99}$")
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# Only the semantic model is compared: positions and sizes (DI) are layout, not behaviour.
_DRAWING_NS = ("http://www.omg.org/spec/BPMN/20100524/DI",
               "http://www.omg.org/spec/DD/20100524/DC", "http://www.omg.org/spec/DD/20100524/DI")
# A node's incoming/outgoing lists repeat its flows' sourceRef/targetRef (compared on the flows).
_REDUNDANT = {f"{{{BPMN_NS}}}incoming", f"{{{BPMN_NS}}}outgoing"}


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a process key, or None when it can."""
    if _PROCESS_KEY.match(key):
        return None
    return _("'%(key)s' is not a valid process key: it starts with a letter or '_', holds only "
             "letters, digits, '_', '-' or '.', and has at most 100 characters.", key=key[:120])


def process_ids(xml: bytes, filename: str) -> list[str]:
    """The ids of the processes an uploaded BPMN file defines, in document order."""
    root = parse_xml(xml, filename).getroot()
    return [p.get("id") for p in root.iter(f"{{{BPMN_NS}}}process") if p.get("id")]


def _drawing(el) -> bool:
    return isinstance(el.tag, str) and etree.QName(el).namespace in _DRAWING_NS


def _signature(el) -> tuple:
    """What an element says, apart from the elements with ids inside it (compared alone)."""
    parts = []
    for child in el:
        if not isinstance(child.tag, str) or child.tag in _REDUNDANT or _drawing(child) \
                or child.get("id") and child.tag.startswith(f"{{{BPMN_NS}}}"):
            continue
        parts.append(_signature(child))
    return (el.tag, tuple(sorted(el.attrib.items())), (el.text or "").strip(), tuple(parts))


def _elements(xml: bytes, filename: str) -> dict[str, tuple[str, str, tuple]]:
    """``{id: (type, name, signature)}`` for every BPMN model element with an id."""
    root = parse_xml(xml, filename).getroot()
    found = {}
    for el in root.iter():
        if el is root or not isinstance(el.tag, str) or not el.get("id") \
                or etree.QName(el).namespace != BPMN_NS:
            continue
        found[el.get("id")] = (etree.QName(el).localname, el.get("name") or "", _signature(el))
    return found


def diff_models(old: bytes | None, new: bytes, filename: str) -> dict[str, list[dict]]:
    """Elements ``new`` adds, removes and changes against ``old`` (moves on the canvas aside)."""
    before = _elements(old, filename) if old is not None else {}
    after = _elements(new, filename)

    def rows(ids, source):
        return [{"id": i, "type": source[i][0], "name": source[i][1]} for i in sorted(ids)]

    changed = {i for i in before.keys() & after.keys() if before[i] != after[i]}
    return {"added": rows(after.keys() - before.keys(), after),
            "removed": rows(before.keys() - after.keys(), before),
            "changed": rows(changed, after)}
