// Instance page: the process diagram (read-only bpmn-js viewer) with done, current and failed elements.
(function () {
  "use strict";
  const section = document.getElementById("instance-diagram");
  if (!section || !window.BpmnJS) return;
  const fail = () => { document.getElementById("diagram-error").hidden = false; section.dataset.loaded = "error"; };

  async function show() {
    const res = await fetch(section.dataset.url, { headers: { "Accept": "application/json" } });
    if (!res.ok) return fail();
    const body = await res.json();
    const viewer = new window.BpmnJS({ container: "#instance-canvas" });
    await viewer.importXML(body.xml);
    const canvas = viewer.get("canvas");
    const registry = viewer.get("elementRegistry");
    canvas.zoom("fit-viewport", "auto");
    Object.entries(body.elements).forEach(([id, state]) => {
      if (registry.get(id)) canvas.addMarker(id, "df-" + state);
    });
    section.dataset.loaded = "true";
  }

  show().catch(fail);
})();
