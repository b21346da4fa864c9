// Resumable uploads for the upload pages (a dataset's, a Files folder's). Each file goes up in
// chunks (PUT ?offset=N); before sending, the page asks the server how much it already has, so a
// dropped connection or a page reload (choosing the same files again) resumes where it stopped.
// Upload ids are remembered in localStorage by target, name, size and modification time. The
// server reads each file's kind from its bytes and refuses, naming it, a file that is no image,
// video or DICOM file; the page only guesses from the first bytes to label the list. When every
// file is in (or refused), the page starts one data job for the rest and shows its progress (an
// htmx partial that polls itself); when the job ends, each file's row says whether it was added or
// failed (matched by its upload's key). Files dropped on the drop zone are taken as if chosen.
(() => {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("id_files");
  const list = document.getElementById("file-list");
  const button = document.getElementById("upload-button");
  const summary = document.getElementById("upload-summary");
  const filesError = document.getElementById("files-error");
  const dropZone = document.getElementById("drop-zone");
  const jobSlot = document.getElementById("job-slot");
  const maxBytes = Number(form.dataset.maxBytes);
  const chunkBytes = Number(form.dataset.chunkBytes);
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const MAX_FAILURES = 8;

  const images = () => form.querySelector("input[name=images]:checked").value;

  // A guess from the first bytes, for the list only: the server reads the file and decides.
  async function guessKind(file) {
    const b = new Uint8Array(await file.slice(0, 132).arrayBuffer());
    const at = (offset, text) => [...text].every((ch, i) => b[offset + i] === ch.charCodeAt(0));
    if (b.length >= 132 && at(128, "DICM")) return "DICOM";
    if ((b[0] === 0x89 && at(1, "PNG")) || (b[0] === 0xff && b[1] === 0xd8) || at(0, "GIF8") || at(0, "BM") ||
        at(0, "II*") || at(0, "MM") || (at(0, "RIFF") && at(8, "WEBP"))) return "image";
    if (at(4, "ftyp") || (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) || (at(0, "RIFF") && at(8, "AVI"))) return "video";
    return "unknown kind";
  }

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
    li.innerHTML = '<span class="name"></span> <span class="badge badge-type kind"></span><span class="state">waiting</span>' +
      '<div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0"><span style="width:0%"></span></div>';
    li.querySelector(".name").textContent = `${file.name} (${human(file.size)})`;
    li.querySelector(".progress").setAttribute("aria-label", `Upload of ${file.name}`);
    list.appendChild(li);
    guessKind(file).then((kind) => { li.querySelector(".kind").textContent = kind; }).catch(() => {});
    return {
      li,
      kind(text) { li.querySelector(".kind").textContent = text; },
      set(fraction, state) {
        const pct = Math.max(0, Math.min(100, Math.floor(fraction * 100)));
        li.querySelector(".progress > span").style.width = `${pct}%`;
        li.querySelector(".progress").setAttribute("aria-valuenow", String(pct));
        if (state) li.querySelector(".state").textContent = state;
      },
      fail(message) {
        li.classList.remove("done");
        li.classList.add("error");
        li.querySelector(".state").textContent = message;
      },
      done() { li.classList.add("done"); this.set(1, "uploaded"); },
      note(text) { li.classList.remove("done"); li.querySelector(".state").textContent = text; },
    };
  }

  const names = (files) => files.map((f) => f.name).join(", ");

  // Drag and drop: files dropped on the box are put in the file input, as if chosen. A drop that
  // misses the box is swallowed, so the browser does not leave the page to open the file.
  const carriesFiles = (event) => Array.from(event.dataTransfer?.types || []).includes("Files");
  ["dragenter", "dragover"].forEach((type) => dropZone.addEventListener(type, (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    dropZone.classList.add("is-dragover");
  }));
  ["dragleave", "dragend"].forEach((type) => dropZone.addEventListener(type, (event) => {
    if (!dropZone.contains(event.relatedTarget)) dropZone.classList.remove("is-dragover");
  }));
  dropZone.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.stopPropagation();
    dropZone.classList.remove("is-dragover");
    input.files = event.dataTransfer.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  });
  ["dragover", "drop"].forEach((type) => window.addEventListener(type, (event) => {
    if (!carriesFiles(event) || dropZone.contains(event.target)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "none";
  }));
  input.addEventListener("change", () => {
    const files = Array.from(input.files || []);
    showFilesError("");
    if (files.length) summary.textContent = `${files.length} file${files.length > 1 ? "s" : ""} chosen: ${names(files)}`;
  });

  // When the job shown in #job-slot ends: each file's row says added or failed (an error lists the
  // keys of its upload: uploads/<upload id>), and the summary line stops saying "Processing".
  let pendingJob = null; // {files, rows, ids (null for a refused file), refused}
  // An error item reads "<strong>Uploading image</strong>: name: reason": the row needs the reason.
  function reason(li, file) {
    const action = li.querySelector("strong");
    let text = li.textContent.trim().slice(action ? action.textContent.length + 1 : 0).trim();
    if (text.startsWith(`${file.name}:`)) text = text.slice(file.name.length + 1).trim();
    return text;
  }
  function jobEnded() {
    const badge = jobSlot.querySelector("[data-status]");
    if (!pendingJob || !badge || badge.dataset.status === "PENDING") return;
    const { files, rows, ids } = pendingJob;
    pendingJob = null;
    const failed = new Map();
    jobSlot.querySelectorAll("li[data-object-urls]").forEach((li) => {
      const keys = li.dataset.objectUrls.split(" ");
      ids.forEach((id, i) => {
        if (id && keys.some((k) => k.endsWith(id))) failed.set(i, li);
      });
    });
    const status = badge.dataset.status;
    files.forEach((f, i) => {
      if (!ids[i]) return; // refused on upload: its row already says why
      if (failed.has(i)) rows[i].fail(`not added: ${reason(failed.get(i), f)}`);
      else if (status === "DONE") rows[i].set(1, "added");
      else rows[i].note(`not added (job ${status.toLowerCase()})`);
    });
    const bad = files.filter((_, i) => failed.has(i) || !ids[i]);
    const plural = files.length > 1 ? "s" : "";
    if (status !== "DONE") summary.textContent = `The job ended ${status.toLowerCase()}: nothing was added. See the errors below.`;
    else if (bad.length) summary.textContent = `Done, ${bad.length} failed: ${files.length - bad.length} of ${files.length} file${plural} added; ${names(bad)} failed (see the list).`;
    else summary.textContent = `Done: ${files.length === 1 ? "the file was" : `all ${files.length} files were`} added.`;
  }
  document.body.addEventListener("htmx:afterSettle", jobEnded);

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
    `dd-upload:${form.dataset.target}:${file.name}:${file.size}:${file.lastModified}`;

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
        if (status >= 400 && status < 500) {
          localStorage.removeItem(storageKey(file));
          throw Object.assign(new Error(data.error || `Refused (${status}).`), { final: true, refused: true });
        }
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
    if (state.kind) ui.kind(state.kind === "dicom" ? "DICOM" : state.kind);
    return state.upload_id;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const files = Array.from(input.files || []);
    showFilesError("");
    if (!files.length) { showFilesError("Choose at least one file."); input.focus(); return; }
    const tooBig = files.filter((f) => f.size > maxBytes);
    if (tooBig.length) {
      showFilesError(`${names(tooBig)} ${tooBig.length > 1 ? "are" : "is"} larger than the limit of ${human(maxBytes)}.`);
      input.focus();
      return;
    }
    const empty = files.filter((f) => f.size === 0);
    if (empty.length) { showFilesError(`${names(empty)}: empty file.`); return; }
    button.disabled = true;
    list.innerHTML = "";
    const rows = files.map(row);
    const ids = [];
    const lost = [];
    for (let i = 0; i < files.length; i += 1) {
      summary.textContent = `Uploading ${i + 1} of ${files.length}…`;
      try {
        ids.push(await uploadFile(files[i], rows[i]));
      } catch (error) {
        // A file the server refused (not media, too large…) is left out; a lost connection stops the lot.
        ids.push(null);
        if (!error.refused) lost.push(files[i]);
        rows[i].fail(error.message);
      }
    }
    if (lost.length) {
      summary.textContent = `${names(lost)} did not upload; nothing was added yet. Choose the files again to resume.`;
      button.disabled = false;
      return;
    }
    const refused = files.filter((_, i) => !ids[i]);
    if (refused.length === files.length) {
      summary.textContent = `Nothing to add: ${names(refused)} ${refused.length > 1 ? "were" : "was"} refused (see the list).`;
      button.disabled = false;
      return;
    }
    summary.textContent = "All files uploaded; processing…";
    const body = new FormData();
    body.append("images", images());
    body.append("title", document.getElementById("id_title").value);
    ids.filter(Boolean).forEach((id) => body.append("upload_id", id));
    const { status, data } = await request("POST", form.dataset.finishUrl, body);
    if (status !== 201) {
      summary.textContent = data.error || `Could not start processing (${status}).`;
      rows.forEach((r, i) => { if (ids[i]) r.note("uploaded; not added"); });
      button.disabled = false;
      return;
    }
    files.forEach((f) => localStorage.removeItem(storageKey(f)));
    summary.textContent = "Processing on the server…";
    rows.forEach((r, i) => { if (ids[i]) r.set(1, "uploaded; processing…"); });
    pendingJob = { files, rows, ids };
    button.disabled = false;
    input.value = "";
    window.htmx.ajax("GET", data.job_url, { target: "#job-slot", swap: "innerHTML" });
  });
})();
