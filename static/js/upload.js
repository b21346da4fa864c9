// Resumable uploads for the upload page. Each file goes up in chunks (PUT ?offset=N); before
// sending, the page asks the server how much it already has, so a dropped connection or a page
// reload (choosing the same files again) resumes where it stopped. Upload ids are remembered in
// localStorage by dataset, kind, name, size and modification time. When every file is in, the
// page starts the data job and shows its progress (an htmx partial that polls itself).
(() => {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("id_files");
  const list = document.getElementById("file-list");
  const button = document.getElementById("upload-button");
  const summary = document.getElementById("upload-summary");
  const filesError = document.getElementById("files-error");
  const titleField = document.getElementById("title-field");
  const maxBytes = Number(form.dataset.maxBytes);
  const chunkBytes = Number(form.dataset.chunkBytes);
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const MAX_FAILURES = 8;

  const mode = () => form.querySelector("input[name=mode]:checked").value;

  function onModeChange() {
    const radio = form.querySelector("input[name=mode]:checked");
    input.accept = radio.dataset.accept || "";
    titleField.hidden = !["image_group", "dicom"].includes(radio.value);
  }
  form.querySelectorAll("input[name=mode]").forEach((r) => r.addEventListener("change", onModeChange));
  onModeChange();

  function human(bytes) {
    const units = ["bytes", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i += 1; }
    return `${i ? bytes.toFixed(1) : bytes} ${units[i]}`;
  }

  function showFilesError(text) {
    filesError.textContent = text;
    filesError.hidden = !text;
    input.setAttribute("aria-invalid", text ? "true" : "false");
  }

  function row(file) {
    const li = document.createElement("li");
    li.innerHTML = '<span class="name"></span><span class="state">waiting</span>' +
      '<div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0"><span style="width:0%"></span></div>';
    li.querySelector(".name").textContent = `${file.name} (${human(file.size)})`;
    li.querySelector(".progress").setAttribute("aria-label", `Upload of ${file.name}`);
    list.appendChild(li);
    return {
      li,
      set(fraction, state) {
        const pct = Math.max(0, Math.min(100, Math.floor(fraction * 100)));
        li.querySelector(".progress > span").style.width = `${pct}%`;
        li.querySelector(".progress").setAttribute("aria-valuenow", String(pct));
        if (state) li.querySelector(".state").textContent = state;
      },
      fail(message) { li.classList.add("error"); li.querySelector(".state").textContent = message; },
      done() { li.classList.add("done"); this.set(1, "uploaded"); },
    };
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function request(method, url, body) {
    const response = await fetch(url, {
      method,
      body,
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
      credentials: "same-origin",
    });
    let data = {};
    try { data = await response.json(); } catch (_) { /* not JSON */ }
    return { status: response.status, data };
  }

  // One chunk by XHR (fetch has no upload progress). Resolves {status, data}; rejects on network loss.
  function putChunk(url, blob, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (e) => onProgress(e.loaded);
      xhr.onload = () => {
        let data = {};
        try { data = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
        resolve({ status: xhr.status, data });
      };
      xhr.onerror = () => reject(new Error("network"));
      xhr.ontimeout = () => reject(new Error("timeout"));
      xhr.send(blob);
    });
  }

  const storageKey = (file) =>
    `dd-upload:${form.dataset.dataset}:${mode()}:${file.name}:${file.size}:${file.lastModified}`;

  async function session(file) {
    const remembered = localStorage.getItem(storageKey(file));
    if (remembered) {
      const { status, data } = await request("GET", form.dataset.chunkUrl + remembered);
      if (status === 200) return data;
      localStorage.removeItem(storageKey(file));
    }
    const body = new FormData();
    body.append("file_name", file.name);
    body.append("size", String(file.size));
    body.append("mode", mode());
    const { status, data } = await request("POST", form.dataset.startUrl, body);
    if (status !== 201) throw new Error(data.error || `The server refused the file (${status}).`);
    localStorage.setItem(storageKey(file), data.upload_id);
    return data;
  }

  async function uploadFile(file, ui) {
    let state = await session(file);
    const url = form.dataset.chunkUrl + state.upload_id;
    let offset = state.offset;
    if (offset > 0 && !state.complete) ui.set(offset / file.size, `resuming at ${human(offset)}`);
    let failures = 0;
    while (!state.complete) {
      const end = Math.min(offset + chunkBytes, file.size);
      try {
        const { status, data } = await putChunk(`${url}?offset=${offset}`, file.slice(offset, end),
          (loaded) => ui.set((offset + loaded) / file.size, `${human(offset + loaded)} of ${human(file.size)}`));
        if (status === 200) {
          // A sign-in page instead of JSON: the session ended mid-upload.
          if (typeof data.offset !== "number") throw Object.assign(new Error("You were signed out: sign in again and choose the same files to resume."), { final: true });
          state = data; offset = data.offset; failures = 0;
          continue;
        }
        if (status === 409) {
          // Not where the server's copy ends (or already complete): ask, then carry on from there.
          const fresh = await request("GET", url);
          if (fresh.status !== 200) throw Object.assign(new Error(fresh.data.error || "The upload was lost; start again."), { final: true });
          state = fresh.data; offset = fresh.data.offset;
          continue;
        }
        if (status >= 400 && status < 500) throw Object.assign(new Error(data.error || `Refused (${status}).`), { final: true });
        throw new Error(`server error ${status}`);
      } catch (error) {
        if (error.final) throw error;
        failures += 1;
        if (failures > MAX_FAILURES) throw new Error("The connection keeps failing; upload the same file again later to resume.");
        ui.set(offset / file.size, `connection lost, retrying (${failures})…`);
        await sleep(Math.min(15000, 500 * 2 ** failures));
        // Ask the server how much it has before sending again.
        const { status, data } = await request("GET", url).catch(() => ({ status: 0, data: {} }));
        if (status === 200) { state = data; offset = data.offset; }
      }
    }
    ui.done();
    return state.upload_id;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const files = Array.from(input.files || []);
    showFilesError("");
    if (!files.length) { showFilesError("Choose at least one file."); input.focus(); return; }
    const tooBig = files.filter((f) => f.size > maxBytes);
    if (tooBig.length) {
      showFilesError(`${tooBig.map((f) => f.name).join(", ")} ${tooBig.length > 1 ? "are" : "is"} larger than the limit of ${human(maxBytes)}.`);
      input.focus();
      return;
    }
    const empty = files.filter((f) => f.size === 0);
    if (empty.length) { showFilesError(`${empty.map((f) => f.name).join(", ")}: empty file.`); return; }
    button.disabled = true;
    list.innerHTML = "";
    const rows = files.map(row);
    const ids = [];
    let failed = 0;
    for (let i = 0; i < files.length; i += 1) {
      summary.textContent = `Uploading ${i + 1} of ${files.length}…`;
      try {
        ids.push(await uploadFile(files[i], rows[i]));
      } catch (error) {
        failed += 1;
        rows[i].fail(error.message);
      }
    }
    if (failed) {
      summary.textContent = `${failed} file${failed > 1 ? "s" : ""} did not upload; nothing was added yet. Choose the files again to resume.`;
      button.disabled = false;
      return;
    }
    summary.textContent = "All files uploaded; processing…";
    const body = new FormData();
    body.append("mode", mode());
    body.append("title", document.getElementById("id_title").value);
    ids.forEach((id) => body.append("upload_id", id));
    const { status, data } = await request("POST", form.dataset.finishUrl, body);
    if (status !== 201) {
      summary.textContent = data.error || `Could not start processing (${status}).`;
      button.disabled = false;
      return;
    }
    files.forEach((f) => localStorage.removeItem(storageKey(f)));
    summary.textContent = "Processing on the server…";
    button.disabled = false;
    input.value = "";
    window.htmx.ajax("GET", data.job_url, { target: "#job-slot", swap: "innerHTML" });
  });
})();
