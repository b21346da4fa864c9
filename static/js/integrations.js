// Show only the fields of the chosen provider (all stay visible without JavaScript).
(() => {
  const form = document.getElementById("integration-form");
  if (!form) return;
  const provider = form.querySelector("select[name=provider]");
  const update = () => {
    form.querySelectorAll("[data-for]").forEach((group) => {
      group.hidden = !group.dataset.for.split(" ").includes(provider.value);
    });
  };
  provider.addEventListener("change", update);
  update();
})();
