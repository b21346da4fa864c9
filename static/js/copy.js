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
