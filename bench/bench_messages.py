"""Message delivery by correlation keys vs by business key vs BPMN correlation keys (no HTTP,
SQLite).

``POST /api/v1/messages/{name}`` with ``correlation`` matches the keys against the data of the
instances waiting for that message: the database first keeps those whose stored state contains
the (ASCII) values, then their workflows are loaded to compare; with a ``business_key`` the
database picks the instance by an index. A model with a BPMN ``correlationKey`` lets a message
carry only its payload: the key its ``messagePath`` computes is looked up among the keys the
waiting instances stored (``message_subscription``, indexed). All wake the same kind of
instance (one intermediate message catch event, then a script and the end). Measured with W
instances waiting, interleaved, median of N deliveries each; the ratios are against the
business key delivery of the same run.

    .venv/bin/python bench/bench_messages.py   # BENCH_MSG_WAITING=100,1000 BENCH_MSG_N=30
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as c

MODEL = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
<bpmn:message id="m1" name="contract_signed"><bpmn:extensionElements>
  <spiffworkflow:messageVariable>signature</spiffworkflow:messageVariable>
</bpmn:extensionElements></bpmn:message>
<bpmn:process id="bench_wait" isExecutable="true">
  <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Initiator"><bpmn:flowNodeRef>fill</bpmn:flowNodeRef>
  </bpmn:lane></bpmn:laneSet>
  <bpmn:startEvent id="s"/>
  <bpmn:userTask id="fill" name="Fill in"/>
  <bpmn:intermediateCatchEvent id="wait"><bpmn:messageEventDefinition messageRef="m1"/>
  </bpmn:intermediateCatchEvent>
  <bpmn:scriptTask id="keep"><bpmn:script>signed_by = signature['signer']</bpmn:script></bpmn:scriptTask>
  <bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="fill"/>
  <bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="wait"/>
  <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="keep"/>
  <bpmn:sequenceFlow id="f4" sourceRef="keep" targetRef="e"/>
</bpmn:process></bpmn:definitions>"""


KEYED = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
<bpmn:collaboration id="c">
  <bpmn:participant id="p" processRef="bench_keyed"/>
  <bpmn:correlationKey id="ck" name="contract">
    <bpmn:correlationPropertyRef>contract_no</bpmn:correlationPropertyRef></bpmn:correlationKey>
</bpmn:collaboration>
<bpmn:correlationProperty id="contract_no">
  <bpmn:correlationPropertyRetrievalExpression messageRef="m1">
    <bpmn:messagePath>contract_id</bpmn:messagePath></bpmn:correlationPropertyRetrievalExpression>
</bpmn:correlationProperty>
<bpmn:message id="m1" name="contract_keyed"><bpmn:extensionElements>
  <spiffworkflow:messageVariable>signature</spiffworkflow:messageVariable>
</bpmn:extensionElements></bpmn:message>
<bpmn:process id="bench_keyed" isExecutable="true">
  <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Initiator"><bpmn:flowNodeRef>fill</bpmn:flowNodeRef>
  </bpmn:lane></bpmn:laneSet>
  <bpmn:startEvent id="s"/>
  <bpmn:userTask id="fill" name="Fill in"/>
  <bpmn:intermediateCatchEvent id="wait"><bpmn:messageEventDefinition messageRef="m1"/>
  </bpmn:intermediateCatchEvent>
  <bpmn:scriptTask id="keep"><bpmn:script>signed_by = signature['signer']</bpmn:script></bpmn:scriptTask>
  <bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="fill"/>
  <bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="wait"/>
  <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="keep"/>
  <bpmn:sequenceFlow id="f4" sourceRef="keep" targetRef="e"/>
  <bpmn:correlationSubscription id="sub" correlationKeyRef="ck">
    <bpmn:correlationPropertyBinding correlationPropertyRef="contract_no">
      <bpmn:dataPath>contract_id</bpmn:dataPath></bpmn:correlationPropertyBinding>
  </bpmn:correlationSubscription>
</bpmn:process></bpmn:definitions>"""


def run(app, waiting_sizes: list[int], n: int) -> None:
    from app.core.models import User
    from app.engine.services import deliver_message, deploy_files
    from app.extensions import db
    from app.tasks.services import start_instance

    rows = []
    with app.app_context():
        deploy_files({"bench_wait.bpmn": MODEL, "bench_keyed.bpmn": KEYED}, "bench")
        db.session.commit()
        admin = User.by_username("admin")
        serial = 0
        for size in waiting_sizes:
            keys = []
            target = size + 2 * n  # every delivery wakes one: keep about ``size`` waiting
            while len(keys) < target:
                serial += 1
                key = f"C-{serial}"
                start_instance("bench_wait", admin, {"contract_id": key}, business_key=key)
                start_instance("bench_keyed", admin, {"contract_id": key}, business_key=key)
                keys.append(key)
                if serial % 200 == 0:
                    db.session.commit()
            db.session.commit()
            by_corr, by_key, by_payload = [], [], []
            for i in range(n):
                for mode, sink in (("corr", by_corr), ("key", by_key), ("payload", by_payload)):
                    key = keys[2 * i + (mode == "key")]
                    t0 = time.perf_counter()
                    if mode == "corr":
                        deliver_message("contract_signed", {"signer": "s"}, admin,
                                        correlation={"contract_id": key})
                    elif mode == "payload":
                        deliver_message("contract_keyed", {"signer": "s", "contract_id": key},
                                        admin)
                    else:
                        deliver_message("contract_signed", {"signer": "s"}, admin,
                                        business_key=key)
                    db.session.commit()
                    sink.append(time.perf_counter() - t0)
            corr, key, payload = c.median(by_corr), c.median(by_key), c.median(by_payload)
            rows.append([size, c.ms(key), c.ms(corr), corr / key, c.ms(payload), payload / key])
            # finish the rest so the next size starts from its own pool only
            for key_left in keys[2 * n:]:
                deliver_message("contract_signed", {"signer": "s"}, admin,
                                business_key=key_left)
            for i, key_left in enumerate(keys):
                if i % 2 == 1 or i >= 2 * n:
                    deliver_message("contract_keyed", {"signer": "s", "contract_id": key_left},
                                    admin)
            db.session.commit()
    c.print_table(["waiting", "business_key median ms", "correlation median ms", "ratio",
                   "BPMN key (payload) median ms", "ratio"],
                  [[r[0], c.fmt(r[1]), c.fmt(r[2]), c.fmt(r[3]), c.fmt(r[4]), c.fmt(r[5])]
                   for r in rows],
                  title=f"Message delivery, median of {n} each (interleaved)")


def main() -> None:
    sizes = [int(x) for x in os.environ.get("BENCH_MSG_WAITING", "100,1000").split(",")]
    n = c.env_int("BENCH_MSG_N", 30)
    c.header(f"Message delivery — correlation keys vs business key vs BPMN correlation key "
             f"({sizes} waiting)")
    c.with_service_app(run, sizes, n)


if __name__ == "__main__":
    main()
