"""Unit tests for app.engine.sandbox (no Flask app needed)."""

import json
import threading
import time
from datetime import date, datetime
from decimal import Decimal

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from app.engine.sandbox import (
    DEFAULT_HELPERS,
    SandboxEnvironment,
    ScriptRejected,
    ScriptTimeout,
    ServiceCallRefused,
    check_expression,
    check_script,
)


@pytest.fixture
def env():
    return SandboxEnvironment()


# --------------------------------------------------------------------------
# execute: data semantics
# --------------------------------------------------------------------------

def test_execute_assigns_variables_into_data(env):
    data = {"a": 2}
    assert env.execute("b = a * 3\nc = 'x'", data) is True
    assert data == {"a": 2, "b": 6, "c": "x"}


def test_execute_leaves_only_json_data(env):
    data = {}
    script = (
        "stamp = now().isoformat()\n"
        "def helper(v):\n"
        "    return v + 1\n"
        "result = helper(1)\n"
        "square = lambda v: v * v\n"
        "print('debug output is discarded')\n"
    )
    env.execute(script, data)
    assert data.keys() == {"stamp", "result"}
    json.dumps(data)
    for name in (*DEFAULT_HELPERS, "__builtins__", "_getattr_", "_tick_", "_print"):
        assert name not in data


def test_decimal_arithmetic(env):
    data = {"price": Decimal("19.99"), "qty": Decimal("3")}
    env.execute("total = price * qty\nnet = total - Decimal('0.97')", data)
    assert data["total"] == Decimal("59.97")
    assert data["net"] == Decimal("59.00")


def test_date_helpers(env):
    data = {}
    env.execute(
        "due = today() + timedelta(days=30)\n"
        "stamp = now()\n"
        "fixed = date(2024, 1, 31)\n"
        "ts = datetime(2024, 1, 1, 12, 0)",
        data,
    )
    assert isinstance(data["due"], date)
    assert data["stamp"].tzinfo is None
    assert abs(datetime.utcnow() - data["stamp"]).total_seconds() < 5
    assert data["fixed"] == date(2024, 1, 31)
    assert data["ts"] == datetime(2024, 1, 1, 12, 0)


def test_item_assignment_augassign_and_comprehensions(env):
    data = {"items": [{"amount": 10}, {"amount": 32}]}
    script = (
        "d = {}\n"
        "d['k'] = 1\n"
        "x = 1\n"
        "x += 1\n"
        "x *= 10\n"
        "x -= 5\n"
        "x /= 3\n"
        "amounts = [i['amount'] for i in items if i['amount'] > 5]\n"
        "by_idx = {n: a for n, a in enumerate(amounts)}\n"
        "total = sum(a for a in amounts)\n"
        "first, second = amounts\n"
        "names = sorted({'b', 'a'})\n"
    )
    env.execute(script, data)
    assert data["d"] == {"k": 1}
    assert data["x"] == 5.0
    assert data["amounts"] == [10, 32]
    assert data["by_idx"] == {0: 10, 1: 32}
    assert data["total"] == 42
    assert (data["first"], data["second"]) == (10, 32)
    assert data["names"] == ["a", "b"]


def test_loops_and_mutation_of_nested_data(env):
    data = {"lines": [1, 2, 3]}
    script = "acc = []\nfor v in lines:\n    acc.append(v * 2)\nlines.append(4)"
    env.execute(script, data)
    assert data["acc"] == [2, 4, 6]
    assert data["lines"] == [1, 2, 3, 4]


def test_external_context_visible_but_not_stored(env):
    data = {"a": 1}
    env.execute("b = a + offset", data, {"offset": 10})
    assert data == {"a": 1, "b": 11}


def test_check_for_overwrite_rejects_data_shadowing_helpers(env):
    with pytest.raises(ValueError, match="now"):
        env.execute("x = 1", {"now": "yesterday"})


def test_extra_helpers(env):
    custom = SandboxEnvironment(helpers={"double": lambda v: v * 2})
    data = {"v": 21}
    custom.execute("r = double(v)", data)
    assert data == {"v": 21, "r": 42}
    assert custom.evaluate("double(v) == 42", {"v": 21}) is True
    with pytest.raises(NameError):
        env.evaluate("double(1)", {})


@pytest.mark.parametrize("name", ["_private", "open", "import", "1x"])
def test_invalid_helper_names(name):
    with pytest.raises(ValueError, match="Invalid helper name"):
        SandboxEnvironment(helpers={name: len})


def test_runtime_error_propagates_and_data_is_cleaned(env):
    data = {"a": 1}
    with pytest.raises(ZeroDivisionError):
        env.execute("b = 2\nc = a / 0", data)
    assert data == {"a": 1, "b": 2}


def test_call_service_is_not_supported(env):
    with pytest.raises(ServiceCallRefused, match="connector"):
        env.call_service({}, operation_name="x")


# --------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"level": "A", "approved_credit_limit": 0}, True),
        ({"level": "B", "approved_credit_limit": 600000}, True),
        ({"level": "B", "approved_credit_limit": 500000}, False),
    ],
)
def test_condition_evaluates(env, data, expected):
    expr = "level == 'A' or approved_credit_limit > 500000"
    assert env.evaluate(expr, data) is expected


def test_evaluate_does_not_modify_data(env):
    data = {"decision": "approve"}
    assert env.evaluate("decision == 'approve'", data) is True
    assert data == {"decision": "approve"}


def test_evaluate_data_wins_over_helpers(env):
    assert env.evaluate("now", {"now": "data value"}) == "data value"


def test_evaluate_comprehension_and_builtins(env):
    data = {"scores": [3, 9, 4]}
    assert env.evaluate("max(scores) - min(scores)", data) == 6
    assert env.evaluate("[s * 2 for s in scores if s > 3]", data) == [18, 8]
    assert env.evaluate("any(s > 8 for s in scores)", data) is True


def test_missing_attribute_raises(env):
    with pytest.raises(AttributeError):
        env.evaluate("d.nope", {"d": date(2024, 1, 1)})


# --------------------------------------------------------------------------
# Rejections
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "source",
    ["import os", "from os import path", "x = 1\nimport subprocess"],
)
def test_imports_rejected(env, source):
    errors = check_script(source)
    assert errors
    assert "import statements are not allowed" in errors[0]
    with pytest.raises(ScriptRejected, match="import"):
        env.execute(source, {})


def test_import_rejected_with_line_number():
    assert check_script("x = 1\nimport os") == [
        "Line 2: import statements are not allowed."
    ]


def test_open_rejected_statically_and_at_runtime(env):
    src = "data = open('/etc/passwd').read()"
    assert check_script(src) == ['Line 1: "open" is not allowed in scripts.']
    with pytest.raises(ScriptRejected, match="open"):
        env.execute(src, {})
    # Defence in depth: even past the compile-time check, the builtins
    # have no open() and __import__ only serves datetime's C internals.
    scope = {}
    env._install_runtime(scope)
    builtins = scope["__builtins__"]
    for name in ("open", "eval", "exec", "getattr", "setattr", "SystemExit"):
        assert name not in builtins
    with pytest.raises(ImportError, match="not allowed"):
        builtins["__import__"]("os")


def test_date_formatting_and_parsing(env):
    # strftime/strptime import modules from C through the sandbox builtins.
    data = {"d": date(2024, 5, 1)}
    assert env.evaluate("d.strftime('%d.%m.%Y')", data) == "01.05.2024"
    assert env.evaluate("f'{d:%Y}'", data) == "2024"
    parsed = env.evaluate("datetime.strptime('2024-05-01', '%Y-%m-%d')", data)
    assert parsed == datetime(2024, 5, 1)


@pytest.mark.parametrize(
    "name",
    ["eval", "exec", "compile", "globals", "locals", "vars", "input",
     "breakpoint", "exit", "quit", "getattr", "setattr", "delattr", "type",
     "object", "super", "memoryview", "help", "dir", "SystemExit"],
)
def test_forbidden_names(name):
    errors = check_script(f"x = {name}")
    assert f'Line 1: "{name}" is not allowed in scripts.' in errors
    assert check_expression(name)
    assert check_script(f"{name} = 1")


def test_dunder_escape_rejected(env):
    src = "().__class__.__mro__[1].__subclasses__()"
    for errors in (check_script(src), check_expression(src)):
        assert any("__class__" in e and e.startswith("Line 1:") for e in errors)
    with pytest.raises(ScriptRejected, match="starts with"):
        env.evaluate(src, {})


@pytest.mark.parametrize(
    "source",
    [
        "getattr(x, '__class__')",
        "x.__class__",
        "_secret = 1",
        "'{0.__class__}'.format(x)",
        "Exception.mro()",
        "x.gi_frame",
        "class A:\n    pass",
    ],
)
def test_introspection_tricks_rejected(env, source):
    assert check_script(source)
    with pytest.raises(ScriptRejected):
        env.execute(source, {"x": 1})


def test_str_format_rejected_f_strings_work(env):
    assert check_expression("'{}'.format(x)") == [
        'Line 1: "format()" is not allowed; use an f-string.'
    ]
    data = {"x": 1, "d": date(2024, 5, 1)}
    assert env.evaluate("f'{x:>3}|{d:%Y}'", data) == "  1|2024"


def test_rejected_script_leaves_data_untouched(env):
    data = {"a": 1}
    with pytest.raises(ScriptRejected):
        env.execute("b = 2\nimport os", data)
    assert data == {"a": 1}


def test_syntax_error_reported_with_line():
    assert check_expression("a ==") == [
        "Line 1: SyntaxError: invalid syntax at statement: 'a =='"
    ]
    errors = check_script("x = 1\ny = (\n")
    assert len(errors) == 1
    assert errors[0].startswith("Line 2: SyntaxError")


def test_syntax_error_at_execute_is_script_rejected(env):
    with pytest.raises(ScriptRejected, match="Line 1") as info:
        env.evaluate("a ==", {"a": 1})
    assert info.value.errors == check_expression("a ==")


def test_expression_surrounding_whitespace_is_ignored(env):
    assert check_expression("\n    a == 1\n  ") == []
    assert env.evaluate("\n    a == 1\n  ", {"a": 1}) is True


def test_expression_must_be_an_expression():
    assert check_expression("x = 1")
    assert check_expression("") == ["Line 1: expression is empty."]
    assert check_expression("level == 'A' and amount > 10") == []


def test_valid_sources_pass_checks():
    assert check_script("") == []
    assert check_script("total = sum([1, 2])\nprint(total)") == []


# --------------------------------------------------------------------------
# Run-time bounds
# --------------------------------------------------------------------------

def test_infinite_loop_times_out(env):
    start = time.monotonic()
    with pytest.raises(ScriptTimeout):
        env.execute("while True:\n    pass", {})
    assert time.monotonic() - start < 2


def test_deadline_applies_when_iterations_are_slow():
    slow = SandboxEnvironment(timeout_seconds=0.2, max_iterations=10**12)
    start = time.monotonic()
    with pytest.raises(ScriptTimeout, match="time limit"):
        slow.execute("n = 0\nwhile True:\n    n = sum(range(1000))", {})
    assert 0.15 < time.monotonic() - start < 2


def test_iteration_budget():
    small = SandboxEnvironment(max_iterations=100)
    small.execute("for i in range(50):\n    pass", {})
    with pytest.raises(ScriptTimeout, match="100 iterations"):
        small.execute("for i in range(200):\n    pass", {})
    with pytest.raises(ScriptTimeout):
        small.evaluate("[i for i in range(200)]", {})


def test_timeout_cannot_be_swallowed(env):
    script = (
        "while True:\n"
        "    try:\n"
        "        while True:\n"
        "            pass\n"
        "    except Exception:\n"
        "        pass\n"
    )
    with pytest.raises(ScriptTimeout):
        env.execute(script, {})


def test_exponential_recursion_is_bounded():
    bounded = SandboxEnvironment(timeout_seconds=0.5)
    script = "f = lambda n: n and (f(n - 1) or f(n - 1))\nf(200)"
    with pytest.raises(ScriptTimeout):
        bounded.execute(script, {})


def test_budget_is_per_call():
    small = SandboxEnvironment(max_iterations=100)
    for _ in range(5):
        small.execute("for i in range(90):\n    pass", {})


def test_deadline_is_per_thread(env):
    results = {}

    def worker(key, script):
        data = {}
        try:
            env.execute(script, data)
            results[key] = data.get("n")
        except ScriptTimeout:
            results[key] = "timeout"

    jobs = {
        "loop": "while True:\n    pass",
        "ok": "n = 0\nfor i in range(10):\n    n += i",
    }
    threads = [threading.Thread(target=worker, args=item) for item in jobs.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert results == {"loop": "timeout", "ok": 45}


# --------------------------------------------------------------------------
# SpiffWorkflow integration
# --------------------------------------------------------------------------

BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="approval" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="calc" name="Calculate">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>total = price * qty
level = 'A' if total &gt; Decimal('1000') else 'B'</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="gw" default="to_low">
      <bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>to_high</bpmn:outgoing><bpmn:outgoing>to_low</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:scriptTask id="high">
      <bpmn:incoming>to_high</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>branch = 'high'</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:scriptTask id="low">
      <bpmn:incoming>to_low</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:script>branch = 'low'</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end_high"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_low"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="calc"/>
    <bpmn:sequenceFlow id="f2" sourceRef="calc" targetRef="gw"/>
    <bpmn:sequenceFlow id="to_high" sourceRef="gw" targetRef="high">
      <bpmn:conditionExpression>
        level == 'A' or approved_credit_limit &gt; 500000
      </bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_low" sourceRef="gw" targetRef="low"/>
    <bpmn:sequenceFlow id="f3" sourceRef="high" targetRef="end_high"/>
    <bpmn:sequenceFlow id="f4" sourceRef="low" targetRef="end_low"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _run_workflow(data, bpmn=BPMN):
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(bpmn, "test.bpmn")
    engine = PythonScriptEngine(environment=SandboxEnvironment())
    workflow = BpmnWorkflow(parser.get_spec("approval"), script_engine=engine)
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)
    workflow.do_engine_steps()
    return workflow


@pytest.mark.parametrize(
    ("price", "credit", "branch", "level"),
    [
        ("600", 0, "high", "A"),
        ("10", 600000, "high", "B"),
        ("10", 1000, "low", "B"),
    ],
)
def test_workflow_script_and_gateway(price, credit, branch, level):
    workflow = _run_workflow(
        {"price": Decimal(price), "qty": Decimal("2"), "approved_credit_limit": credit}
    )
    assert workflow.is_completed()
    assert workflow.data["total"] == Decimal(price) * 2
    assert workflow.data["level"] == level
    assert workflow.data["branch"] == branch
    done = workflow.get_tasks(state=TaskState.COMPLETED)
    completed = {t.task_spec.name for t in done}
    assert branch in completed
    assert ({"high", "low"} - {branch}).isdisjoint(completed)
    for name in DEFAULT_HELPERS:
        assert name not in workflow.data


def test_workflow_rejected_script_becomes_task_exception():
    bad = BPMN.replace(b"branch = 'low'", b"import os\nbranch = 'low'")
    with pytest.raises(WorkflowTaskException) as info:
        _run_workflow({"price": Decimal("1"), "qty": Decimal("1"),
                       "approved_credit_limit": 0}, bpmn=bad)
    assert info.value.error_type == "ScriptRejected"
    assert "import statements are not allowed" in str(info.value)
