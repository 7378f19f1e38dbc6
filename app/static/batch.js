// Batch approval from the inbox: send the selected tasks in small chunks to the API, move the
// progress bar after each chunk and list the result of every row as it comes in. Without
// JavaScript (or if the API cannot be reached) the form posts to the page, which answers with
// the same results once all are done.
(function () {
  const CHUNK = 20;

  function cell(text, className) {
    const td = document.createElement("td");
    if (className) {
      const badge = document.createElement("span");
      badge.className = className;
      badge.textContent = text;
      td.appendChild(badge);
    } else {
      td.textContent = text;
    }
    return td;
  }

  function titleOf(id) {
    const row = document.querySelector(`tr[data-task-id="${id}"] .row-link`);
    return row ? row.textContent.trim() : `#${id}`;
  }

  async function send(form, ids, data, labels) {
    const progress = form.querySelector("progress");
    const live = document.getElementById("batch-live");
    const status = document.getElementById("batch-status");
    const body = document.querySelector("#batch-live-results tbody");
    const csrf = form.querySelector("input[name=csrf_token]").value;
    let done = 0, ok = 0, failed = 0;
    body.textContent = "";
    live.hidden = false;
    progress.hidden = false;
    progress.max = ids.length;
    progress.value = 0;
    const show = () => {
      status.textContent = labels.progress.replace("%(done)s", done).replace("%(total)s", ids.length)
        .replace("%(ok)s", ok).replace("%(failed)s", failed);
    };
    show();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      let results;
      const response = await fetch(form.dataset.api, {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json",
                  "X-CSRFToken": csrf},
        body: JSON.stringify({task_ids: chunk, data: data}),
      });
      if (response.ok) {
        results = (await response.json()).results;
      } else {
        const problem = await response.json().catch(() => ({}));
        results = chunk.map((id) => ({task_id: id, ok: false, status: response.status,
                                      code: problem.code, message: problem.detail || problem.title}));
      }
      for (const r of results) {
        done += 1;
        const tr = document.createElement("tr");
        tr.dataset.testid = "batch-row";
        tr.dataset.taskId = r.task_id;
        tr.dataset.ok = r.ok ? "yes" : "no";
        tr.appendChild(cell(`#${r.task_id}`));
        tr.appendChild(cell(titleOf(r.task_id)));
        if (r.ok) {
          ok += 1;
          tr.appendChild(cell(labels.approved, "badge badge-approve"));
          const row = document.querySelector(`#task-table tr[data-task-id="${r.task_id}"]`);
          if (row) {
            row.classList.add("done");
            const box = row.querySelector("input[type=checkbox]");
            if (box) { box.checked = false; box.disabled = true; }
          }
        } else {
          failed += 1;
          const td = cell(String(r.status), "badge badge-reject");
          td.appendChild(document.createTextNode(" " + (labels.codes[r.code] || r.message || "")));
          tr.appendChild(td);
        }
        body.appendChild(tr);
      }
      progress.value = done;
      show();
    }
    status.textContent = labels.finished.replace("%(ok)s", ok).replace("%(failed)s", failed);
  }

  document.querySelectorAll("form[data-batch]").forEach((form) => {
    const labels = JSON.parse(form.dataset.labels || "{}");
    form.addEventListener("submit", (event) => {
      const ids = Array.from(document.querySelectorAll("input[name=task_ids]:checked"))
        .map((box) => parseInt(box.value, 10));
      if (!ids.length || !window.fetch || !form.dataset.api) return;  // the page reports it
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      const comment = form.querySelector("input[name=comment]").value.trim();
      const data = {decision: "approve", comment: comment || null};
      send(form, ids, data, labels).catch(() => {
        form.removeAttribute("data-api");
        form.submit();  // the API could not be reached: let the page do it
      }).finally(() => { button.disabled = false; });
    });
  });
})();
