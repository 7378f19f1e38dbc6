// The BPMN modeler page: bpmn-js edits the diagram; Validate / Deploy post it to the server.
// Deploy (button or Ctrl+S) validates, shows what changes against the deployed version and
// deploys once confirmed. Unsaved edits are flagged and guarded when leaving the page.
(function () {
  "use strict";
  const root = document.getElementById("modeler");
  if (!root || !window.BpmnJS) return;
  const messages = JSON.parse(document.getElementById("modeler-messages").textContent);
  const xml = JSON.parse(document.getElementById("diagram-xml").textContent);
  const csrf = document.querySelector("meta[name=csrf-token]").content;
  const status = document.getElementById("modeler-status");
  const problemList = document.getElementById("problems");
  const indicator = document.getElementById("unsaved-indicator");
  const dialog = document.getElementById("deploy-dialog");
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
    const modeler = new window.BpmnJS({ container: "#canvas", moddleExtensions,
                                        keyboard: { bindTo: document } });
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
    const guard = unsavedGuard(modeler);

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
        say(body.title || fmt(messages.failed, { status: res.status }), "error");
        return false;
      }
      showProblems(body.problems || []);
      say(body.ok ? messages.valid : messages.has_problems, body.ok ? "success" : "error");
      return body.ok;
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
      guard.markClean();
      const mine = body.deployed.find((d) => d.filename === (root.dataset.filename)) || body.deployed[0];
      if (!mine) return say(messages.valid, "success");
      say(fmt(mine.created ? messages.deployed : messages.unchanged, { n: mine.version }), "success");
      const current = document.getElementById("current-version");
      if (current) {
        current.dataset.version = mine.version;
        current.textContent = fmt(messages.latest, { n: mine.version });
      }
      root.dataset.version = mine.version;
      if (!root.dataset.key) {
        root.dataset.key = mine.process_key;
        root.dataset.filename = mine.filename;
        history.replaceState(null, "", root.dataset.editUrl.replace("__KEY__", encodeURIComponent(mine.process_key)));
      }
      await refreshVersions();
    }

    // The version table as the server now has it (the new version on top, marked shown).
    async function refreshVersions() {
      const url = root.dataset.versionsUrl.replace("__KEY__", encodeURIComponent(root.dataset.key))
        + "?shown=" + encodeURIComponent(root.dataset.version);
      let res;
      try { res = await fetch(url, { headers: { "Accept": "text/html" } }); } catch (err) { return; }
      if (!res.ok) return;
      const fresh = new DOMParser().parseFromString(await res.text(), "text/html")
        .getElementById("version-history");
      const table = document.getElementById("version-history");
      if (!fresh) return;
      if (table) table.replaceWith(fresh);
      else (dialog || root).after(fresh);
      root.dataset.versionsRefreshed = root.dataset.version;
    }

    function changeList(kind, rows) {
      const list = document.getElementById("diff-" + kind);
      list.innerHTML = "";
      rows.forEach((row) => {
        const li = document.createElement("li");
        li.dataset.testid = "diff-" + kind;
        li.dataset.element = row.id;
        li.dataset.type = row.type;
        li.textContent = (row.name ? row.name + " · " : "") + (row.type_label || row.type) + " · " + row.id;
        list.appendChild(li);
      });
      list.closest("section").hidden = !rows.length;
    }

    async function requestDeploy() {
      if (dialog.open || !(await validate())) return;
      const { res, body } = await post(root.dataset.diffUrl);
      if (!res.ok || !body.ok) {
        showProblems(body.problems || fieldProblems(body));
        return say(body.title || messages.has_problems, "error");
      }
      const counts = { added: body.added.length, removed: body.removed.length, changed: body.changed.length };
      document.getElementById("diff-summary").textContent = body.base_version
        ? fmt(messages.diff_summary, { n: body.base_version, ...counts })
        : fmt(messages.diff_new, { key: body.process_key || "" });
      document.getElementById("diff-none").hidden = !body.base_version || counts.added + counts.removed + counts.changed > 0;
      const running = document.getElementById("diff-running");
      running.hidden = !body.running;
      running.textContent = fmt(messages.diff_running, { count: body.running });
      ["added", "removed", "changed"].forEach((kind) => changeList(kind, body[kind]));
      dialog.dataset.baseVersion = body.base_version || "";
      dialog.showModal();
    }

    function download() {
      modeler.saveXML({ format: true }).then(({ xml: edited }) => {
        const a = document.createElement("a");
        a.href = URL.createObjectURL(new Blob([edited], { type: "application/xml" }));
        a.download = root.dataset.filename;
        document.body.appendChild(a);
        a.click();
        a.remove();
        guard.markClean();
      });
    }

    const on = (id, fn) => { const el = document.getElementById(id); if (el) el.addEventListener("click", fn); };
    if (!readOnly) {
      on("validate-btn", validate);
      on("deploy-btn", requestDeploy);
      on("deploy-confirm", () => { dialog.close(); deploy(); });
      on("deploy-cancel", () => { dialog.close(); say(messages.not_deployed, ""); });
      // The search pad closes on any document click: keep the opening click from reaching it.
      on("search-btn", (event) => { event.stopPropagation(); modeler.get("searchPad").toggle(); });
    }
    document.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "s") {
        event.preventDefault();  // never the browser's "save page"
        if (!readOnly) requestDeploy();
      }
    });
    on("download-btn", download);
  }

  // Unsaved edits: a visible flag, the browser's leave warning and a confirm on in-app links.
  function unsavedGuard(modeler) {
    const stack = readOnly ? null : modeler.get("commandStack");
    let savedAt = stack ? stack._stackIdx : 0;
    let leaving = false;
    const dirty = () => Boolean(stack) && stack._stackIdx !== savedAt;
    const show = () => {
      root.dataset.dirty = dirty() ? "true" : "false";
      if (indicator) indicator.hidden = !dirty();
    };
    modeler.on("commandStack.changed", show);
    window.addEventListener("beforeunload", (event) => {
      if (!dirty() || leaving) return;
      event.preventDefault();
      event.returnValue = "";
    });
    document.addEventListener("click", (event) => {
      const link = event.target.closest("a[href]");
      if (!link || link.hasAttribute("download") || link.target === "_blank"
          || link.getAttribute("href").startsWith("#") || !dirty()) return;
      if (window.confirm(messages.leave)) leaving = true;
      else event.preventDefault();
    }, true);
    document.addEventListener("submit", (event) => {
      if (!dirty()) return;
      if (window.confirm(messages.leave)) leaving = true;
      else event.preventDefault();
    }, true);
    show();
    return { markClean() { savedAt = stack ? stack._stackIdx : 0; show(); } };
  }

  start();
})();
