// Price import page: poll the import's status and move the progress bar until it finishes.
(function () {
  const box = document.getElementById("import-progress");
  if (!box || !["queued", "running"].includes(box.dataset.status)) return;
  const bar = document.getElementById("import-bar");
  const state = document.getElementById("import-state");
  async function poll() {
    let data;
    try {
      const r = await fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (!r.ok) throw new Error(r.status);
      data = await r.json();
    } catch (e) {
      setTimeout(poll, 3000);
      return;
    }
    bar.max = Math.max(data.total, 1);
    bar.value = data.processed;
    document.getElementById("import-processed").textContent = data.processed;
    document.getElementById("import-total").textContent = data.total;
    document.getElementById("import-errors").textContent = data.error_count;
    state.textContent = state.dataset[data.status] || data.status;
    if (["queued", "running"].includes(data.status)) setTimeout(poll, 1000);
    else window.location.reload();
  }
  setTimeout(poll, 1000);
})();
