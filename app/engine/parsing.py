"""Hardened BPMN parsing and deploy-time validation with located errors.

This module and its siblings in ``app.engine`` are the only code that imports SpiffWorkflow.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.message import CorrelationProperty
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.process import VALIDATOR
from SpiffWorkflow.spiff.parser.task_spec import (
    ServiceTaskParser,
    SpiffTaskParser,
    UserTaskParser,
)

from app.engine.specs import PlatformNoneTask, PlatformServiceTask

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
ASSIGNMENT_NS = {
    "camunda": "http://camunda.org/schema/1.0/bpmn",
    "flowable": "http://flowable.org/bpmn",
    "activiti": "http://activiti.org/bpmn",
}
ASSIGNMENT_ATTRS = ("candidateGroups", "candidateUsers", "assignee", "formKey", "dueDate",
                    "priority")
MAX_FILE_BYTES = 2 * 1024 * 1024


class ModelProblems(Exception):
    """One or more located problems in a set of BPMN/DMN files."""

    def __init__(self, problems: list[dict]):
        super().__init__("; ".join(p["message"] for p in problems[:3]))
        self.problems = problems


def problem(file: str, message: str, element: str | None = None, line=None) -> dict:
    return {"file": file, "element": element, "line": line or None, "message": message}


def _secure_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_comments=False)


def parse_xml(content: bytes, filename: str) -> etree._ElementTree:
    """Parse untrusted XML: no DTDs, entities or network; located error on failure."""
    if len(content) > MAX_FILE_BYTES:
        raise ModelProblems([problem(filename, f"File is larger than {MAX_FILE_BYTES} bytes")])
    head = content[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in content.lower():
        line = content[: content.lower().find(b"<!")].count(b"\n") + 1
        raise ModelProblems([problem(filename, "DOCTYPE and entity declarations are not allowed "
                                               "(XXE / entity expansion protection)", line=line)])
    try:
        tree = etree.ElementTree(etree.fromstring(content, _secure_parser()))
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if hasattr(exc, "lineno") else None
        raise ModelProblems([problem(filename, f"Malformed XML: {exc.msg}", line=line)]) from None
    if tree.docinfo.doctype:
        raise ModelProblems([problem(filename, "DOCTYPE declarations are not allowed")])
    return tree


class AssignmentMixin:
    """Keep Camunda/Flowable assignment attributes in ``extensions['assignment']``.

    SpiffWorkflow parses none of them; ``extensions`` survive serialization, attributes set
    directly on a spec do not.
    """

    def parse_extensions(self, node=None):
        node = self.node if node is None else node
        extensions = super().parse_extensions(node)
        assignment = {}
        for ns in ASSIGNMENT_NS.values():
            for attr in ASSIGNMENT_ATTRS:
                value = node.get(f"{{{ns}}}{attr}")
                if value:
                    assignment[attr] = value
        for name, value in (extensions.get("properties") or {}).items():
            if name in ASSIGNMENT_ATTRS and value:
                assignment.setdefault(name, value)
        if assignment:
            extensions["assignment"] = assignment
        extensions["sourceline"] = node.sourceline
        return extensions


def _with_assignment(parser_cls):
    return type(f"Platform{parser_cls.__name__}", (AssignmentMixin, parser_cls), {})


class SubscriptionMixin:
    """Read BPMN ``correlationSubscription`` bindings as SpiffWorkflow process correlations.

    A process subscribes to a ``correlationKey`` of the collaboration; each
    ``correlationPropertyBinding`` gives a ``dataPath`` expression evaluated against the
    waiting task's data when a message catch event starts waiting (SpiffWorkflow stores the
    result in ``workflow.correlations``). The message's own ``messagePath`` retrieval
    expressions compute the same properties from an incoming payload. SpiffWorkflow itself
    only reads its ``spiffworkflow:processVariableCorrelation`` extension for the waiting side.
    """

    def parse_process_correlations(self, node):
        found = super().parse_process_correlations(node)
        message_ref = node.get("messageRef")
        if not message_ref:
            return found
        used = {p.name for p in self.get_message_correlations(message_ref)}
        have = {p.name for p in found}
        process = next(node.iterancestors(full_tag("process")), None)
        if process is None:
            return found
        ns = {"bpmn": BPMN_NS}
        for sub in process.iterfind("bpmn:correlationSubscription", ns):
            key_ref = sub.get("correlationKeyRef")
            keys = self.doc_xpath(f".//bpmn:correlationKey[@id='{key_ref}']") if key_ref else []
            key_name = keys[0].get("name") if keys else "MainCorrelationKey"
            for binding in sub.iterfind("bpmn:correlationPropertyBinding", ns):
                prop = binding.get("correlationPropertyRef")
                path = binding.find("bpmn:dataPath", ns)
                if prop not in used or prop in have or path is None or not (path.text or "").strip():
                    continue
                found.append(CorrelationProperty(prop, path.text.strip(), [key_name]))
                have.add(prop)
        return found


def _event_parsers() -> dict:
    out = {}
    for tag, (parser_cls, spec_cls) in SpiffBpmnParser.OVERRIDE_PARSER_CLASSES.items():
        if hasattr(parser_cls, "parse_process_correlations"):
            out[tag] = (type(f"Platform{parser_cls.__name__}", (SubscriptionMixin, parser_cls), {}),
                        spec_cls)
    return out


class PlatformParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = dict(SpiffBpmnParser.OVERRIDE_PARSER_CLASSES)
    OVERRIDE_PARSER_CLASSES.update(_event_parsers())
    OVERRIDE_PARSER_CLASSES.update({
        full_tag("userTask"): (_with_assignment(UserTaskParser),
                               SpiffBpmnParser.OVERRIDE_PARSER_CLASSES[full_tag("userTask")][1]),
        full_tag("manualTask"): (_with_assignment(SpiffTaskParser),
                                 SpiffBpmnParser.OVERRIDE_PARSER_CLASSES[full_tag("manualTask")][1]),
        full_tag("task"): (_with_assignment(SpiffTaskParser), PlatformNoneTask),
        full_tag("serviceTask"): (_with_assignment(ServiceTaskParser), PlatformServiceTask),
    })


@dataclass
class ParsedBundle:
    """The result of parsing a set of files: specs per executable process id."""

    parser: PlatformParser
    trees: dict[str, etree._ElementTree]
    contents: dict[str, bytes]
    process_files: dict[str, str] = field(default_factory=dict)  # process id → filename

    def process_ids(self) -> list[str]:
        return sorted(self.process_files)

    def files_for(self, process_id: str) -> list[str]:
        """The file of ``process_id`` plus the files of every process it calls, plus DMN."""
        files = {self.process_files[process_id]}
        for sub in self.parser.get_subprocess_specs(process_id, require_call_activity_specs=False):
            if sub in self.process_files:
                files.add(self.process_files[sub])
        files.update(n for n in self.contents if n.endswith(".dmn"))
        return sorted(files)


def _spiff_problem(exc: Exception, filename: str, trees) -> dict:
    file = getattr(exc, "file_name", None) or filename
    element = getattr(exc, "id", None) or None
    line = getattr(exc, "line_number", None) or None
    if not line and element and file in trees:
        line = find_line(trees[file], element)
    message = str(exc).split("\n")[0] if not isinstance(exc, SpiffWorkflowException) else \
        getattr(exc, "error", None) or str(exc)
    return problem(file, " ".join(_ELEMENT_REPR.sub(r"<\1>", str(message)).split()), element, line)


_ELEMENT_REPR = re.compile(r"<Element \{[^}]*\}(\w+) at 0x[0-9a-f]+>")


def find_line(tree: etree._ElementTree, element_id: str) -> int | None:
    found = tree.getroot().xpath("//*[@id=$id]", id=element_id)
    return found[0].sourceline if found else None


def parse_bundle(contents: dict[str, bytes], validate_xsd: bool = True) -> ParsedBundle:
    """Parse BPMN and DMN files together; raise ModelProblems with every located problem."""
    problems: list[dict] = []
    trees: dict[str, etree._ElementTree] = {}
    for name, content in contents.items():
        try:
            trees[name] = parse_xml(content, name)
        except ModelProblems as exc:
            problems.extend(exc.problems)
    if problems:
        raise ModelProblems(problems)
    parser = PlatformParser(validator=VALIDATOR if validate_xsd else None)
    bundle = ParsedBundle(parser, trees, contents)
    for name, tree in trees.items():
        try:
            if name.endswith(".dmn"):
                parser.add_dmn_xml(tree.getroot(), filename=name)
            else:
                parser.add_bpmn_xml(tree, filename=name)
        except (ValidationException, SpiffWorkflowException, ValueError, KeyError) as exc:
            problems.append(_spiff_problem(exc, name, trees))
    if problems:
        raise ModelProblems(problems)
    for pid, pparser in parser.process_parsers.items():
        if pparser.process_executable:
            bundle.process_files[pid] = pparser.filename
    return bundle


def build_specs(bundle: ParsedBundle, process_id: str):
    """Return (spec, subprocess_specs) for one process; located problems on failure."""
    filename = bundle.process_files.get(process_id, "?")
    try:
        spec = bundle.parser.get_spec(process_id)
        subs = bundle.parser.get_subprocess_specs(process_id)
    except (ValidationException, SpiffWorkflowException, ValueError, KeyError,
            AttributeError, TypeError) as exc:
        raise ModelProblems([_spiff_problem(exc, filename, bundle.trees)]) from None
    return spec, subs


Checker = Callable[[str], list[str]]
