// Instance page: the process diagram (read-only bpmn-js viewer) with done, current and failed
// elements. A call activity that ran opens the diagram of the process it called (and back).
(function () {
  "use strict";
  const section = document.getElementById("instance-diagram");
  if (!section || !window.BpmnJS) return;
  const messages = JSON.parse(document.getElementById("diagram-messages").textContent);
  const path = document.getElementById("diagram-path");
  const back = document.getElementById("diagram-back");
  const fail = () => { document.getElementById("diagram-error").hidden = false; section.dataset.loaded = "error"; };
  const viewer = new window.BpmnJS({ container: "#instance-canvas" });
  const trail = [];  // the runs above the one shown: {id, process_key}

  function urlOf(subprocessId) {
    return subprocessId ? section.dataset.subUrl.replace("__ID__", encodeURIComponent(subprocessId))
      : section.dataset.url;
  }

  function fmt(text, values) {
    return text.replace(/%\((\w+)\)s/g, (_, k) => (values[k] === undefined ? "" : values[k]));
  }

  function drawPath(body) {
    path.textContent = [...trail.map((r) => r.process_key), body.process_key].join(" › ");
    back.hidden = !trail.length;
    if (trail.length) back.textContent = fmt(messages.back, { process: trail[trail.length - 1].process_key });
  }

  function addDrillButtons(body) {
    const overlays = viewer.get("overlays");
    const registry = viewer.get("elementRegistry");
    Object.entries(body.call_activities || {}).forEach(([element, runs]) => {
      if (!registry.get(element)) return;
      const box = document.createElement("div");
      box.className = "df-drill";
      runs.forEach((run, i) => {
        const btn = document.createElement("button");
        btn.type = "button";
        btn.dataset.testid = "open-called";
        btn.dataset.element = element;
        btn.dataset.state = run.state;
        btn.textContent = runs.length > 1 ? fmt(messages.open_nth, { n: i + 1 }) : messages.open;
        btn.title = fmt(messages.open_title, { process: run.process_key });
        btn.addEventListener("click", () => {
          trail.push({ id: body.subprocess_id, process_key: body.process_key });
          load(run.id).catch(fail);
        });
        box.appendChild(btn);
      });
      overlays.add(element, "df-drill", { position: { bottom: 4, right: 4 }, html: box });
      viewer.get("canvas").addMarker(element, "df-has-called");
    });
  }

  async function load(subprocessId) {
    section.dataset.loaded = "loading";
    const res = await fetch(urlOf(subprocessId), { headers: { "Accept": "application/json" } });
    if (!res.ok) return fail();
    const body = await res.json();
    await viewer.importXML(body.xml, body.diagram_id || undefined);
    const canvas = viewer.get("canvas");
    const registry = viewer.get("elementRegistry");
    canvas.zoom("fit-viewport", "auto");
    Object.entries(body.elements).forEach(([id, state]) => {
      if (registry.get(id)) canvas.addMarker(id, "df-" + state);
    });
    addDrillButtons(body);
    drawPath(body);
    section.dataset.process = body.process_key;
    section.dataset.subprocess = body.subprocess_id || "";
    section.dataset.loaded = "true";
  }

  back.addEventListener("click", () => {
    const parent = trail.pop();
    if (parent) load(parent.id).catch(fail);
  });

  load(null).catch(fail);
})();
