// The metadata editor checks its JSON as you type (the server checks it again on save): an error
// says where, and Save waits until the text is a JSON object.
(function () {
  function check(area) {
    var form = area.form, out = form.querySelector("#metadata-error"), save = form.querySelector("button[type=submit]");
    var problem = "";
    try {
      var value = JSON.parse(area.value || "{}");
      if (value === null || typeof value !== "object" || Array.isArray(value)) problem = "Metadata must be a JSON object: {\"key\": value, ...}.";
    } catch (e) {
      problem = "That is not valid JSON yet: " + e.message;
    }
    out.textContent = problem;
    out.hidden = !problem;
    if (problem) { area.setAttribute("aria-invalid", "true"); area.setAttribute("aria-describedby", "metadata-error"); }
    else area.removeAttribute("aria-invalid");
    save.disabled = !!problem;
  }
  document.addEventListener("input", function (e) {
    if (e.target.matches && e.target.matches("textarea[data-json-editor]")) check(e.target);
  });
})();
