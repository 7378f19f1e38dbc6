"""Deploying bad BPMN: a located 4xx/problem list, nothing deployed."""

from pathlib import Path

import pytest

from app.core.errors import DeployError
from app.engine.models import ProcessVersion
from app.engine.services import deploy_files
from app.extensions import db

HEADER = ('<?xml version="1.0" encoding="UTF-8"?>\n'
          '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
          'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
          'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
          'id="d" targetNamespace="t">\n')


def model(body: str, pid: str = "p") -> bytes:
    return (HEADER + f'<bpmn:process id="{pid}" isExecutable="true">\n{body}\n'
            '</bpmn:process>\n</bpmn:definitions>\n').encode()


def simple(task: str, flows: str = "") -> bytes:
    return model(f"""<bpmn:startEvent id="s"/>
{task}
<bpmn:endEvent id="e"/>
<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
<bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/>{flows}""")


def problems_of(files: dict[str, bytes]) -> list[dict]:
    before = db.session.query(ProcessVersion).count()
    with pytest.raises(DeployError) as info:
        deploy_files(files, "test")
    db.session.rollback()
    assert db.session.query(ProcessVersion).count() == before
    return info.value.problems


def test_good_model_deploys_once_per_content():
    ok = simple('<bpmn:userTask id="t" camunda:candidateGroups="finance"/>')
    first = deploy_files({"ok.bpmn": ok}, "test")
    again = deploy_files({"ok.bpmn": ok}, "test")
    assert first[0].created and not again[0].created
    changed = deploy_files({"ok.bpmn": ok.replace(b'id="t"', b'id="t" name="renamed"')}, "test")
    assert changed[0].created and changed[0].version == 2


def test_malformed_xml_is_located():
    [p] = problems_of({"bad.bpmn": b"<bpmn:definitions>\n<oops>\n"})
    assert p["file"] == "bad.bpmn" and p["line"] and "Malformed XML" in p["message"]


def test_xxe_and_billion_laughs_rejected():
    xxe = b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<r>&x;</r>'
    lol = (b'<?xml version="1.0"?>\n<!DOCTYPE l [<!ENTITY a "aaaaaaaa">'
           b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;">]>\n<l>&c;</l>')
    for name, content in (("xxe.bpmn", xxe), ("lol.bpmn", lol)):
        [p] = problems_of({name: content})
        assert "DOCTYPE" in p["message"] and "root:" not in p["message"]


def test_sequence_flow_without_id():
    bad = simple('<bpmn:userTask id="t" camunda:candidateGroups="finance"/>',
                  '\n<bpmn:sequenceFlow sourceRef="t" targetRef="e"/>')
    msgs = [p for p in problems_of({"noid.bpmn": bad}) if "no id" in p["message"]]
    assert msgs and msgs[0]["line"]


def test_user_task_nobody_can_do():
    [p] = problems_of({"who.bpmn": simple('<bpmn:userTask id="t" name="Approve"/>')})
    assert p["element"] == "t" and p["line"] == 5 and "cannot be assigned" in p["message"]


def test_unknown_form_key_and_unknown_role():
    task = '<bpmn:userTask id="t" camunda:candidateGroups="wizards" camunda:formKey="nope"/>'
    messages = " | ".join(p["message"] for p in problems_of({"f.bpmn": simple(task)}))
    assert "Unknown form key 'nope'" in messages and "wizards" in messages


def test_unknown_operator_and_missing_parameter():
    unknown = simple('<bpmn:serviceTask id="t"><bpmn:extensionElements>'
                     '<spiffworkflow:serviceTaskOperator id="erp.nothing"><spiffworkflow:parameters/>'
                     '</spiffworkflow:serviceTaskOperator>'
                     '</bpmn:extensionElements></bpmn:serviceTask>')
    [p] = problems_of({"op.bpmn": unknown})
    assert "Unknown service operation 'erp.nothing'" in p["message"] and p["element"] == "t"
    missing = simple('<bpmn:serviceTask id="t"><bpmn:extensionElements>'
                     '<spiffworkflow:serviceTaskOperator id="dealers.archive"><spiffworkflow:parameters/>'
                     '</spiffworkflow:serviceTaskOperator>'
                     '</bpmn:extensionElements></bpmn:serviceTask>')
    [p] = problems_of({"op2.bpmn": missing})
    assert "needs parameter" in p["message"] and "uscc" in p["message"]


@pytest.mark.parametrize("script", ["import os", "open('/etc/passwd').read()",
                                    "x = ().__class__.__mro__[1].__subclasses__()"])
def test_dangerous_scripts_rejected(script):
    body = simple(f'<bpmn:scriptTask id="t"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>')
    p = problems_of({"s.bpmn": body})[0]
    assert p["element"] == "t" and p["line"] and "Script rejected" in p["message"]


def test_condition_that_does_not_compile():
    body = model("""<bpmn:startEvent id="s"/>
<bpmn:exclusiveGateway id="g"/>
<bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
<bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="g"/>
<bpmn:sequenceFlow id="f1" sourceRef="g" targetRef="e1">
  <bpmn:conditionExpression>amount &gt;</bpmn:conditionExpression>
</bpmn:sequenceFlow>
<bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="e2">
  <bpmn:conditionExpression>amount &lt;= 5</bpmn:conditionExpression>
</bpmn:sequenceFlow>""")
    [p] = problems_of({"c.bpmn": body})
    assert p["element"] == "f1" and p["line"] == 9 and "does not compile" in p["message"]


def test_shipped_processes_pass_validation():
    processes = Path(__file__).resolve().parents[2] / "processes"
    files = {p.name: p.read_bytes() for p in [*processes.glob("*.bpmn"), *processes.glob("*.dmn")]}
    assert files
    from app.engine.services import check_files

    assert {"dealer_admission", "order_approval", "credit_check", "promotion_approval"} <= set(
        check_files(files).process_ids())


def test_miwg_reference_models_are_deployed_or_rejected_readably():
    miwg = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "miwg"
    files = sorted(miwg.glob("*.bpmn"))
    if not files:
        pytest.fail("MIWG reference models not found next to the repository (../shared)")
    from app.engine.parsing import ModelProblems
    from app.engine.services import check_files

    for path in files:
        try:
            check_files({path.name: path.read_bytes()})
        except ModelProblems as exc:
            for p in exc.problems:
                assert p["file"] == path.name
                assert p["message"] and "Traceback" not in p["message"]
