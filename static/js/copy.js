// Copy buttons: <button data-copy="#input-id">. Falls back to selecting the text when the
// Clipboard API is unavailable (plain-HTTP origins other than localhost).
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.querySelector(button.dataset.copy);
  if (!field) return;
  const text = field.value ?? field.textContent;
  const original = button.textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    field.select?.();
    button.textContent = "Press Ctrl+C";
  }
  setTimeout(() => { button.textContent = original; }, 2000);
});

// Forms that work once (the private-key download): after submitting, replace the form by a note
// so nobody clicks again and gets a "not found".
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-once]");
  if (!form) return;
  setTimeout(() => {
    const note = document.createElement("p");
    note.className = "muted";
    note.textContent = form.dataset.once;
    form.replaceWith(note);
  }, 0);
});
