"""Platform rules every deployed model must pass, each problem located (file, element, line)."""

from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from app.core.roles import INITIATOR, ROLES, role_for_lane
from app.engine.parsing import (
    BPMN_NS,
    ModelProblems,
    ParsedBundle,
    build_specs,
    find_line,
    problem,
)
from app.engine.runtime import MISSED_SLOT_POLICIES
from app.engine.sandbox import check_expression, check_script
from app.engine.specs import PlatformServiceTask

NS = {"bpmn": BPMN_NS, "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}


@dataclass
class Rules:
    form_exists: Callable[[str], bool]
    operation: Callable[[str], object]  # name → Operation | None


def assignment_of(task_spec) -> dict:
    ext = task_spec.extensions or {}
    out = dict(ext.get("assignment") or {})
    props = ext.get("properties") or {}
    for key in ("candidateScope", "returnTo"):
        if props.get(key):
            out[key] = props[key]
    return out


def candidate_roles(task_spec) -> list[str]:
    """Roles that may work a user task: candidateGroups, else the lane's role."""
    groups = assignment_of(task_spec).get("candidateGroups")
    if groups:
        return [g.strip() for g in groups.split(",") if g.strip()]
    role = role_for_lane(task_spec.lane)
    return [role] if role and role != INITIATOR else []


def is_initiator_task(task_spec) -> bool:
    assignee = assignment_of(task_spec).get("assignee", "")
    return role_for_lane(task_spec.lane) == INITIATOR or assignee.strip("${} ") == "initiator"


def _check_xml(name: str, tree: etree._ElementTree) -> list[dict]:
    out = []
    root = tree.getroot()
    for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
        if not flow.get("id"):
            out.append(problem(name, "Sequence flow has no id (it would be silently dropped)",
                               None, flow.sourceline))
    for cond in root.iterfind(".//bpmn:conditionExpression", NS):
        flow = cond.getparent()
        for msg in check_expression((cond.text or "").strip() or "True"):
            out.append(problem(name, f"Condition does not compile: {msg}", flow.get("id"),
                               cond.sourceline))
    scripts = list(root.iterfind(".//bpmn:script", NS))
    scripts += list(root.iterfind(".//spiffworkflow:preScript", NS))
    scripts += list(root.iterfind(".//spiffworkflow:postScript", NS))
    for script in scripts:
        owner = script.getparent()
        while owner is not None and not owner.get("id"):
            owner = owner.getparent()
        for msg in check_script(script.text or ""):
            out.append(problem(name, f"Script rejected: {msg}",
                               owner.get("id") if owner is not None else None, script.sourceline))
    for tag in ("timeDuration", "timeDate", "timeCycle"):
        for timer in root.iterfind(f".//bpmn:{tag}", NS):
            for msg in check_expression((timer.text or "").strip() or "None"):
                out.append(problem(name, f"Timer expression does not compile: {msg}",
                                   None, timer.sourceline))
    out.extend(_check_correlations(name, root))
    for prop in root.iterfind(".//bpmn:startEvent//spiffworkflow:property[@name='missedSlots']",
                              NS):
        if prop.get("value") not in MISSED_SLOT_POLICIES:
            event = next(prop.iterancestors(f"{{{BPMN_NS}}}startEvent"))
            out.append(problem(name, f"missedSlots must be one of "
                                     f"{', '.join(MISSED_SLOT_POLICIES)}, not "
                                     f"'{prop.get('value')}'", event.get("id"), prop.sourceline))
    return out


def _check_correlations(name: str, root) -> list[dict]:
    """Correlation keys are named; every correlation expression compiles (located)."""
    out = []
    for key in root.iterfind(".//bpmn:correlationKey", NS):
        if not (key.get("name") or "").strip():
            out.append(problem(name, "Correlation key has no name (messages are matched by it)",
                               key.get("id"), key.sourceline))
    expressions = []
    for prop in root.iterfind(".//bpmn:correlationProperty", NS):
        for retrieval in prop.iterfind("bpmn:correlationPropertyRetrievalExpression", NS):
            expressions += [(prop.get("id"), "messagePath", e) for e in retrieval
                            if isinstance(e.tag, str)]
    for binding in root.iterfind(".//bpmn:correlationPropertyBinding", NS):
        expressions += [(binding.get("correlationPropertyRef"), "dataPath", e)
                        for e in binding.iterfind("bpmn:dataPath", NS)]
    for corr in root.iterfind(".//spiffworkflow:processVariableCorrelation", NS):
        prop = corr.find("spiffworkflow:propertyId", NS)
        expressions += [(prop.text if prop is not None else None, "expression", e)
                        for e in corr.iterfind("spiffworkflow:expression", NS)]
    for prop_id, kind, element in expressions:
        text = (element.text or "").strip()
        if not text:
            out.append(problem(name, f"Correlation property '{prop_id}' has an empty {kind}",
                               prop_id, element.sourceline))
            continue
        for msg in check_expression(text):
            out.append(problem(name, f"Correlation property '{prop_id}' {kind} does not "
                                     f"compile: {msg}", prop_id, element.sourceline))
    return out


def _check_user_task(spec, rules: Rules, loc) -> list[dict]:
    out = []
    info = assignment_of(spec)
    roles = candidate_roles(spec)
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        out.append(loc(f"Unknown role(s) in candidateGroups: {', '.join(unknown)}"))
    has_people = roles or info.get("candidateUsers") or info.get("assignee") or \
        is_initiator_task(spec)
    if not has_people:
        out.append(loc(f"User task '{spec.bpmn_name or spec.bpmn_id}' cannot be assigned to anyone: "
                       f"put it in a lane named after a role ({', '.join(sorted(ROLES))}) "
                       "or set candidateGroups / candidateUsers / assignee"))
    form_key = info.get("formKey")
    if form_key and not rules.form_exists(form_key):
        out.append(loc(f"Unknown form key '{form_key}' (no forms/{form_key}.yaml)"))
    out.extend(loc(msg) for msg in timeout_problems(spec))
    return out


TIMEOUT_ACTIONS = ("remind", "auto-approve", "auto-return", "escalate")
ESCALATE_MODES = ("add", "replace")


def timeout_settings(task_spec) -> dict:
    """The per-node timeout properties of a user task (``dueIn``, ``dueDateField``, …)."""
    props = (getattr(task_spec, "extensions", None) or {}).get("properties") or {}
    return {k: str(props[k]).strip() for k in ("dueIn", "dueDateField", "warnBefore",
                                               "onTimeout", "escalateTo", "escalateMode")
            if props.get(k)}


def timeout_problems(task_spec) -> list[str]:
    """What is wrong with a user task's timeout settings (超时处理), as messages."""
    from app.engine.runtime import iso_duration

    cfg, out = timeout_settings(task_spec), []
    for key in ("dueIn", "warnBefore"):
        if key in cfg:
            try:
                iso_duration(cfg[key])
            except ValueError as exc:
                out.append(f"Property '{key}': {exc}")
    action = cfg.get("onTimeout")
    if action and action not in TIMEOUT_ACTIONS:
        out.append(f"Property 'onTimeout': unknown value '{action}' "
                   f"(one of {', '.join(TIMEOUT_ACTIONS)})")
    has_due = "dueIn" in cfg or "dueDateField" in cfg
    if not has_due and ("warnBefore" in cfg or action):
        out.append("Properties 'warnBefore' / 'onTimeout' need 'dueIn' or 'dueDateField'")
    if action == "escalate":
        role = cfg.get("escalateTo")
        if not role:
            out.append("Property 'onTimeout' is 'escalate' but 'escalateTo' names no role")
        elif role not in ROLES:
            out.append(f"Property 'escalateTo': unknown role '{role}'")
    mode = cfg.get("escalateMode")
    if mode and mode not in ESCALATE_MODES:
        out.append(f"Property 'escalateMode': unknown value '{mode}' "
                   f"(one of {', '.join(ESCALATE_MODES)})")
    elif mode and action != "escalate":
        out.append("Property 'escalateMode' needs 'onTimeout' to be 'escalate'")
    return out


def _check_service_task(spec, rules: Rules, loc) -> list[dict]:
    op = rules.operation(spec.operation_name)
    if op is None:
        return [loc(f"Unknown service operation '{spec.operation_name}'")]
    out = []
    given = set(spec.operation_params or {})
    missing = op.required_params() - given
    if missing:
        out.append(loc(f"Operation '{spec.operation_name}' needs parameter(s): "
                       f"{', '.join(sorted(missing))}"))
    known = op.known_params()
    if known is not None and given - known:
        out.append(loc(f"Operation '{spec.operation_name}' has no parameter(s): "
                       f"{', '.join(sorted(given - known))}"))
    for pname, param in (spec.operation_params or {}).items():
        for msg in check_expression(str(param.get("value", ""))):
            out.append(loc(f"Parameter '{pname}' does not compile: {msg}"))
    return out


def _check_specs(bundle: ParsedBundle, process_id: str, rules: Rules) -> list[dict]:
    out = []
    spec, subs = build_specs(bundle, process_id)
    for proc in [spec, *subs.values()]:
        if proc is None:
            continue
        filename = bundle.parser.get_process_parser(proc.name).filename
        tree = bundle.trees[filename]
        for task_spec in proc.task_specs.values():
            bpmn_id = getattr(task_spec, "bpmn_id", None)
            if bpmn_id is None:
                continue

            def loc(msg, _id=bpmn_id, _f=filename, _t=tree):
                return problem(_f, msg, _id, find_line(_t, _id))

            if isinstance(task_spec, PlatformServiceTask):
                out.extend(_check_service_task(task_spec, rules, loc))
            elif getattr(task_spec, "manual", False):
                out.extend(_check_user_task(task_spec, rules, loc))
    return out


def validate_bundle(bundle: ParsedBundle, rules: Rules) -> None:
    """Raise ModelProblems listing every rule a parsed bundle breaks."""
    problems = []
    for name, tree in bundle.trees.items():
        if name.endswith(".bpmn"):
            problems.extend(_check_xml(name, tree))
    if not bundle.process_files and any(n.endswith(".bpmn") for n in bundle.trees):
        name = next(iter(bundle.trees))
        first = bundle.trees[name].getroot().find(".//bpmn:process", NS)
        problems.append(problem(name, "No executable process (isExecutable=\"true\") in the file",
                                first.get("id") if first is not None else None,
                                first.sourceline if first is not None else None))
    for pid in bundle.process_ids():
        try:
            problems.extend(_check_specs(bundle, pid, rules))
        except ModelProblems as exc:
            problems.extend(exc.problems)
    seen, unique = set(), []
    for p in problems:
        key = (p["file"], p["element"], p["line"], p["message"])
        if key not in seen:
            seen.add(key)
            unique.append(p)
    if unique:
        raise ModelProblems(unique)
