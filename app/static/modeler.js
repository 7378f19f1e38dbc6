// The BPMN modeler page: bpmn-js edits the diagram; Validate / Deploy post it to the server.
(function () {
  "use strict";
  const root = document.getElementById("modeler");
  if (!root || !window.BpmnJS) return;
  const messages = JSON.parse(document.getElementById("modeler-messages").textContent);
  const xml = JSON.parse(document.getElementById("diagram-xml").textContent);
  const csrf = document.querySelector("meta[name=csrf-token]").content;
  const status = document.getElementById("modeler-status");
  const problemList = document.getElementById("problems");
  const readOnly = root.dataset.readOnly === "true";
  let marked = [];

  function fmt(text, values) {
    return text.replace(/%\((\w+)\)s/g, (_, k) => (values[k] === undefined ? "" : values[k]));
  }

  function say(text, kind) {
    status.textContent = text;
    status.className = "flash " + (kind || "");
    status.dataset.state = kind || "";
  }

  async function start() {
    let moddleExtensions = {};
    try {
      const res = await fetch(root.dataset.descriptorUrl);
      if (res.ok) moddleExtensions = { camunda: await res.json() };
    } catch (err) { /* the camunda descriptor only types camunda:*; unknown attributes are kept */ }
    const modeler = new window.BpmnJS({ container: "#canvas", moddleExtensions });
    window.dealerflowModeler = modeler;
    try {
      await modeler.importXML(xml);
      modeler.get("canvas").zoom("fit-viewport", "auto");
      root.dataset.loaded = "true";
    } catch (err) {
      say(fmt(messages.load_failed, { error: err.message }), "error");
      root.dataset.loaded = "error";
      return;
    }

    function clearMarkers() {
      const canvas = modeler.get("canvas");
      marked.forEach((id) => canvas.removeMarker(id, "df-problem"));
      marked = [];
    }

    function showProblems(problems) {
      clearMarkers();
      problemList.innerHTML = "";
      problemList.hidden = !problems.length;
      const registry = modeler.get("elementRegistry");
      const canvas = modeler.get("canvas");
      problems.forEach((p) => {
        const li = document.createElement("li");
        li.dataset.testid = "problem";
        li.dataset.element = p.element || "";
        const where = [p.file, p.element, p.line ? fmt(messages.line, { n: p.line }) : null]
          .filter(Boolean).join(" · ");
        li.textContent = (where ? where + ": " : "") + p.message;
        if (p.element && registry.get(p.element)) {
          canvas.addMarker(p.element, "df-problem");
          marked.push(p.element);
          li.classList.add("locatable");
          li.addEventListener("click", () => {
            modeler.get("selection").select(registry.get(p.element));
            canvas.scrollToElement(registry.get(p.element));
          });
        }
        problemList.appendChild(li);
      });
    }

    async function currentFilename() {
      if (root.dataset.key) return root.dataset.filename;
      const process = modeler.getDefinitions().rootElements.find((e) => e.$type === "bpmn:Process");
      return process ? process.id + ".bpmn" : root.dataset.filename;
    }

    async function post(url) {
      const { xml: edited } = await modeler.saveXML({ format: true });
      const res = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json",
                   "X-CSRFToken": csrf },
        body: JSON.stringify({ xml: edited, filename: await currentFilename(),
                               key: root.dataset.key || null }),
      });
      let body = {};
      try { body = await res.json(); } catch (err) { /* not JSON: reported by status below */ }
      return { res, body };
    }

    function fieldProblems(body) {
      const errors = body.errors || {};
      return Object.keys(errors).map((field) => ({ element: null, message: field + ": " + errors[field].join(" ") }));
    }

    async function validate() {
      say(messages.checking, "");
      const { res, body } = await post(root.dataset.checkUrl);
      if (!res.ok) {
        showProblems(fieldProblems(body));
        return say(body.title || fmt(messages.failed, { status: res.status }), "error");
      }
      showProblems(body.problems || []);
      say(body.ok ? messages.valid : messages.has_problems, body.ok ? "success" : "error");
    }

    async function deploy() {
      say(messages.deploying, "");
      const { res, body } = await post(root.dataset.deployUrl);
      if (res.status === 422) {
        showProblems(body.problems || fieldProblems(body));
        return say(messages.invalid, "error");
      }
      if (!res.ok) return say(body.title || fmt(messages.failed, { status: res.status }), "error");
      showProblems([]);
      const mine = body.deployed.find((d) => d.filename === (root.dataset.filename)) || body.deployed[0];
      if (!mine) return say(messages.valid, "success");
      say(fmt(mine.created ? messages.deployed : messages.unchanged, { n: mine.version }), "success");
      const current = document.getElementById("current-version");
      if (current) current.dataset.version = mine.version;
      root.dataset.version = mine.version;
      if (!root.dataset.key) {
        root.dataset.key = mine.process_key;
        root.dataset.filename = mine.filename;
      }
    }

    function download() {
      modeler.saveXML({ format: true }).then(({ xml: edited }) => {
        const a = document.createElement("a");
        a.href = URL.createObjectURL(new Blob([edited], { type: "application/xml" }));
        a.download = root.dataset.filename;
        document.body.appendChild(a);
        a.click();
        a.remove();
      });
    }

    const on = (id, fn) => { const el = document.getElementById(id); if (el) el.addEventListener("click", fn); };
    if (!readOnly) {
      on("validate-btn", validate);
      on("deploy-btn", deploy);
    }
    on("download-btn", download);
  }

  start();
})();
