// A DICOM series, one slice at a time, in series order (templates/partials/row_dicom.html). The
// server renders each slice to an 8-bit PNG through the window asked for (?center=&width=, none for
// the file's own) and says which window it used, and the instance number, in X- headers; a slice it
// cannot show answers a sentence (422), shown here instead of a broken image. Slices move by wheel,
// arrow keys, the slider and the buttons; the window by presets, the two numbers, or by dragging.
(function () {
  "use strict";

  var viewer = document.getElementById("dicom-viewer");
  if (!viewer) return;
  var slices = Array.prototype.map.call(viewer.querySelectorAll("[data-dicom-slices] li"), function (li) {
    return { src: li.dataset.src, title: li.dataset.title };
  });
  if (!slices.length) return;

  var img = document.getElementById("dicom-image");
  var stage = viewer.querySelector("[data-dicom-stage]");
  var loading = viewer.querySelector("[data-dicom-loading]");
  var errorBox = document.getElementById("dicom-error");
  var slider = document.getElementById("dicom-slider");
  var sliceK = viewer.querySelector("[data-slice-k]");
  var instance = viewer.querySelector("[data-instance]");
  var centerInput = document.getElementById("dicom-center");
  var widthInput = document.getElementById("dicom-width");
  var levelsError = document.getElementById("dicom-levels-error");
  var presets = viewer.querySelectorAll("[data-preset]");

  var k = 0;
  var win = null; // null: each file's own window ("Default"); else {center, width}
  var wanted = null, inflight = false, shownBlob = null;

  function urlOf(index) {
    var src = slices[index].src;
    return win ? src + "?center=" + encodeURIComponent(win.center) + "&width=" + encodeURIComponent(win.width) : src;
  }

  function setInputs(center, width) {
    if (document.activeElement !== centerInput) centerInput.value = center === null ? "" : String(center);
    if (document.activeElement !== widthInput) widthInput.value = width === null ? "" : String(width);
  }

  function showResult(result, url, index) {
    var current = url === wanted;
    viewer.dataset.state = current ? (result.ok ? "ready" : "error") : "loading";
    loading.hidden = true;
    if (!result.ok) {
      img.hidden = true;
      errorBox.textContent = result.text;
      errorBox.hidden = false;
      instance.textContent = "—";
      viewer.dataset.url = url;
      return;
    }
    errorBox.hidden = true;
    var previous = shownBlob;
    shownBlob = URL.createObjectURL(result.blob);
    img.src = shownBlob;
    img.alt = "Slice " + (index + 1) + " of " + slices.length + ": " + slices[index].title;
    img.hidden = false;
    if (previous) URL.revokeObjectURL(previous);
    var h = result.headers;
    instance.textContent = h.get("X-Dicom-Instance-Number") || "—";
    if (h.get("X-Window-Center") !== null) setInputs(h.get("X-Window-Center"), h.get("X-Window-Width"));
    viewer.dataset.url = url;
    viewer.dataset.shown = String(index);
  }

  function reasonOf(response) {
    var type = response.headers.get("Content-Type") || "";
    if (response.status === 422 && type.indexOf("text/plain") === 0) return response.text();
    if (response.redirected || type.indexOf("text/html") === 0) {
      return Promise.resolve("You were signed out, or lost access to this dataset: reload the page.");
    }
    return Promise.resolve("The slice could not be loaded (HTTP " + response.status + ").");
  }

  // One request at a time; whatever was asked for meanwhile is fetched next (the latest wins), so
  // fast scrolling or dragging never piles requests up on the server.
  function pump() {
    var url = wanted, index = k;
    inflight = true;
    fetch(url, { credentials: "same-origin" })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (response.ok && type.indexOf("image/png") === 0) {
          return response.blob().then(function (blob) { return { ok: true, blob: blob, headers: response.headers }; });
        }
        return reasonOf(response).then(function (text) { return { ok: false, text: text }; });
      })
      .catch(function () {
        return { ok: false, text: "The slice could not be loaded: the server did not answer (check your connection)." };
      })
      .then(function (result) {
        inflight = false;
        showResult(result, url, index);
        if (wanted !== url) pump();
      });
  }

  function request() {
    wanted = urlOf(k);
    if (viewer.dataset.url === wanted && viewer.dataset.state !== "loading") return;
    viewer.dataset.state = "loading";
    if (!inflight) pump();
  }

  function moveTo(index) {
    k = Math.max(0, Math.min(slices.length - 1, index));
    sliceK.textContent = String(k + 1);
    slider.value = String(k + 1);
    viewer.dataset.index = String(k);
    request();
  }

  function setWindow(next, presetName) {
    win = next;
    presets.forEach(function (button) {
      button.setAttribute("aria-pressed", button.dataset.preset === presetName ? "true" : "false");
    });
    viewer.dataset.window = presetName || "Custom";
    if (win) setInputs(win.center, win.width);
    request();
  }

  presets.forEach(function (button) {
    button.addEventListener("click", function () {
      var c = button.dataset.center, w = button.dataset.width;
      setWindow(c === "" ? null : { center: Number(c), width: Number(w) }, button.dataset.preset);
    });
  });

  document.getElementById("dicom-levels").addEventListener("submit", function (event) {
    event.preventDefault();
    var c = Number(centerInput.value), w = Number(widthInput.value);
    if (centerInput.value.trim() === "" || widthInput.value.trim() === "" || !isFinite(c) || !isFinite(w) || w < 1) {
      levelsError.textContent = "Enter a level (any number) and a width of at least 1.";
      levelsError.hidden = false;
      return;
    }
    levelsError.hidden = true;
    setWindow({ center: c, width: w }, null);
  });

  viewer.querySelectorAll("[data-slice-step]").forEach(function (button) {
    button.addEventListener("click", function () { moveTo(k + parseInt(button.dataset.sliceStep, 10)); });
  });
  slider.addEventListener("input", function () { moveTo(parseInt(slider.value, 10) - 1); });

  viewer.addEventListener("keydown", function (event) {
    if (event.target.closest("input, textarea, select")) return;
    var by = { ArrowUp: -1, ArrowLeft: -1, ArrowDown: 1, ArrowRight: 1, PageUp: -10, PageDown: 10 }[event.key];
    if (event.key === "Home") by = -k;
    if (event.key === "End") by = slices.length - 1 - k;
    if (by) { event.preventDefault(); moveTo(k + by); }
  });

  // The wheel steps one slice per notch (a trackpad's small deltas add up to one).
  var wheelSum = 0;
  stage.addEventListener("wheel", function (event) {
    event.preventDefault();
    wheelSum += event.deltaY;
    if (Math.abs(wheelSum) >= 40 || Math.abs(event.deltaY) >= 40) {
      moveTo(k + (wheelSum > 0 ? 1 : -1));
      wheelSum = 0;
    }
  }, { passive: false });

  // Drag: right widens the window, left narrows it; down raises the level, up lowers it. The step
  // grows with the width, so a 2000-wide bone window and an 80-wide brain window both feel right.
  var drag = null;
  img.addEventListener("pointerdown", function (event) {
    var c = Number(centerInput.value), w = Number(widthInput.value);
    if (!isFinite(c) || !isFinite(w) || centerInput.value === "" || widthInput.value === "") return;
    drag = { x: event.clientX, y: event.clientY, center: c, width: w };
    img.setPointerCapture(event.pointerId);
    event.preventDefault();
  });
  img.addEventListener("pointermove", function (event) {
    if (!drag) return;
    var scale = Math.max(0.5, drag.width / 250);
    var width = Math.max(1, Math.round(drag.width + (event.clientX - drag.x) * scale));
    var center = Math.round(drag.center + (event.clientY - drag.y) * scale);
    if (!win || win.center !== center || win.width !== width) setWindow({ center: center, width: width }, null);
  });
  function endDrag() { drag = null; }
  img.addEventListener("pointerup", endDrag);
  img.addEventListener("pointercancel", endDrag);

  moveTo(0);
})();
