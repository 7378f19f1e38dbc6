"""Modeler rules: which process keys are valid, and what an edit changes against a version."""

import re

from flask_babel import gettext as _
from flask_babel import lazy_pgettext
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


# What the change summary calls each BPMN element type (the XML's local name); the "BPMN"
# context keeps these apart from the same English words elsewhere ("Group": 组待办).
TYPE_LABELS = {
    "process": lazy_pgettext("BPMN", "Process"),
    "collaboration": lazy_pgettext("BPMN", "Collaboration"),
    "participant": lazy_pgettext("BPMN", "Pool"),
    "laneSet": lazy_pgettext("BPMN", "Lane set"),
    "lane": lazy_pgettext("BPMN", "Lane"),
    "startEvent": lazy_pgettext("BPMN", "Start event"),
    "endEvent": lazy_pgettext("BPMN", "End event"),
    "intermediateCatchEvent": lazy_pgettext("BPMN", "Intermediate catch event"),
    "intermediateThrowEvent": lazy_pgettext("BPMN", "Intermediate throw event"),
    "boundaryEvent": lazy_pgettext("BPMN", "Boundary event"),
    "task": lazy_pgettext("BPMN", "Task"),
    "userTask": lazy_pgettext("BPMN", "User task"),
    "serviceTask": lazy_pgettext("BPMN", "Service task"),
    "scriptTask": lazy_pgettext("BPMN", "Script task"),
    "businessRuleTask": lazy_pgettext("BPMN", "Business rule task"),
    "manualTask": lazy_pgettext("BPMN", "Manual task"),
    "sendTask": lazy_pgettext("BPMN", "Send task"),
    "receiveTask": lazy_pgettext("BPMN", "Receive task"),
    "callActivity": lazy_pgettext("BPMN", "Call activity"),
    "subProcess": lazy_pgettext("BPMN", "Sub-process"),
    "transaction": lazy_pgettext("BPMN", "Transaction"),
    "adHocSubProcess": lazy_pgettext("BPMN", "Ad-hoc sub-process"),
    "exclusiveGateway": lazy_pgettext("BPMN", "Exclusive gateway"),
    "parallelGateway": lazy_pgettext("BPMN", "Parallel gateway"),
    "inclusiveGateway": lazy_pgettext("BPMN", "Inclusive gateway"),
    "eventBasedGateway": lazy_pgettext("BPMN", "Event-based gateway"),
    "complexGateway": lazy_pgettext("BPMN", "Complex gateway"),
    "sequenceFlow": lazy_pgettext("BPMN", "Sequence flow"),
    "messageFlow": lazy_pgettext("BPMN", "Message flow"),
    "association": lazy_pgettext("BPMN", "Association"),
    "conditionExpression": lazy_pgettext("BPMN", "Condition"),
    "dataObject": lazy_pgettext("BPMN", "Data object"),
    "dataObjectReference": lazy_pgettext("BPMN", "Data object reference"),
    "dataStoreReference": lazy_pgettext("BPMN", "Data store reference"),
    "dataInputAssociation": lazy_pgettext("BPMN", "Data input association"),
    "dataOutputAssociation": lazy_pgettext("BPMN", "Data output association"),
    "ioSpecification": lazy_pgettext("BPMN", "Input/output specification"),
    "dataInput": lazy_pgettext("BPMN", "Data input"),
    "dataOutput": lazy_pgettext("BPMN", "Data output"),
    "property": lazy_pgettext("BPMN", "Property"),
    "textAnnotation": lazy_pgettext("BPMN", "Text annotation"),
    "group": lazy_pgettext("BPMN", "Group"),
    "category": lazy_pgettext("BPMN", "Category"),
    "categoryValue": lazy_pgettext("BPMN", "Category value"),
    "message": lazy_pgettext("BPMN", "Message"),
    "signal": lazy_pgettext("BPMN", "Signal"),
    "error": lazy_pgettext("BPMN", "Error"),
    "escalation": lazy_pgettext("BPMN", "Escalation"),
    "timerEventDefinition": lazy_pgettext("BPMN", "Timer"),
    "messageEventDefinition": lazy_pgettext("BPMN", "Message trigger"),
    "errorEventDefinition": lazy_pgettext("BPMN", "Error trigger"),
    "signalEventDefinition": lazy_pgettext("BPMN", "Signal trigger"),
    "escalationEventDefinition": lazy_pgettext("BPMN", "Escalation trigger"),
    "conditionalEventDefinition": lazy_pgettext("BPMN", "Conditional trigger"),
    "terminateEventDefinition": lazy_pgettext("BPMN", "Terminate trigger"),
    "compensateEventDefinition": lazy_pgettext("BPMN", "Compensation trigger"),
    "linkEventDefinition": lazy_pgettext("BPMN", "Link trigger"),
    "cancelEventDefinition": lazy_pgettext("BPMN", "Cancel trigger"),
    "multiInstanceLoopCharacteristics": lazy_pgettext("BPMN", "Multi-instance"),
    "standardLoopCharacteristics": lazy_pgettext("BPMN", "Loop"),
}


def type_label(local_name: str) -> str:
    """A BPMN element type as people say it ("User task"), in the request's language."""
    label = TYPE_LABELS.get(local_name)
    if label is not None:
        return str(label)
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", local_name).capitalize()


def label_types(changes: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """``changes`` (of :func:`diff_models`) with each row's ``type_label``."""
    for rows in changes.values():
        for row in rows:
            row["type_label"] = type_label(row["type"])
    return changes
