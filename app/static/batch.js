// Batch approval: show progress while the server approves the selected tasks one by one.
document.querySelectorAll("form[data-batch]").forEach((form) => {
  form.addEventListener("submit", () => {
    const progress = form.querySelector("progress");
    if (progress) progress.hidden = false;
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
  });
});
