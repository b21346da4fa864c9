// A data item's viewers: the video's frame counter and frame stepping (from the frame table, so
// frame n here is frame n in Python), image zoom, and the image group's one-by-one viewer.
(function () {
  "use strict";

  function readJson(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  // Frame n shows from times[n] until times[n + 1]: the current frame is the last one whose time
  // is <= currentTime; seeking to the middle of frame n's interval makes the browser show frame n.
  function frameClock(times, fps, frames) {
    if (!times.length && fps > 0 && frames > 0) {
      for (var i = 0; i < frames; i++) times.push(i / fps);
    }
    function frameAt(t) {
      var lo = 0, hi = times.length - 1, found = 0;
      while (lo <= hi) {
        var mid = (lo + hi) >> 1;
        if (times[mid] <= t + 1e-9) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
      }
      return found;
    }
    function timeOf(n) {
      var next = n + 1 < times.length ? times[n + 1] : times[n] + (n > 0 ? times[n] - times[n - 1] : 1 / (fps || 30));
      return (times[n] + next) / 2;
    }
    return { count: times.length, times: times, frameAt: frameAt, timeOf: timeOf };
  }

  function setupVideo() {
    var video = document.getElementById("player");
    if (!video) return;
    var box = document.getElementById("video-viewer");
    var clock = frameClock(readJson("frame-times") || [], parseFloat(video.dataset.fps) || 0,
      parseInt(video.dataset.frames, 10) || 0);
    var out = document.getElementById("frame-now");
    var input = document.getElementById("goto-frame-n");
    var error = document.getElementById("goto-frame-error");
    if (!clock.count) {
      box.querySelectorAll("[data-step], #goto-frame").forEach(function (el) { el.hidden = true; });
    } else {
      out.querySelector("[data-total]").textContent = " of " + clock.count;
      input.max = String(clock.count - 1);
    }
    function show() {
      var t = video.currentTime;
      out.querySelector("[data-time]").textContent = t.toFixed(3);
      if (clock.count) {
        var n = clock.frameAt(t);
        out.querySelector("[data-frame]").textContent = String(n);
        video.dataset.frame = String(n);
      }
    }
    function goTo(n) {
      n = Math.max(0, Math.min(clock.count - 1, n));
      video.pause();
      video.currentTime = clock.timeOf(n);
    }
    function step(by) {
      if (clock.count) goTo(clock.frameAt(video.currentTime) + by);
    }
    ["seeked", "timeupdate", "loadedmetadata", "pause"].forEach(function (ev) { video.addEventListener(ev, show); });
    if (video.requestVideoFrameCallback) {
      var onFrame = function () { show(); video.requestVideoFrameCallback(onFrame); };
      video.requestVideoFrameCallback(onFrame);
    }
    box.querySelectorAll("[data-step]").forEach(function (button) {
      button.addEventListener("click", function () { step(parseInt(button.dataset.step, 10)); });
    });
    video.addEventListener("keydown", function (event) {
      var by = { ",": -1, ".": 1, ArrowLeft: -1, ArrowRight: 1 }[event.key];
      if (by && clock.count) { event.preventDefault(); step(by); }
    });
    document.getElementById("goto-frame").addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      var n = Number(text);
      if (text === "" || !Number.isInteger(n) || n < 0 || n >= clock.count) {
        error.textContent = "Enter a whole frame number from 0 to " + (clock.count - 1) + ".";
        error.hidden = false;
        input.setAttribute("aria-invalid", "true");
        return;
      }
      error.hidden = true;
      input.removeAttribute("aria-invalid");
      goTo(n);
      video.focus();
    });
  }

  // Fit the box, or natural size times `scale`; click the image to toggle fit / 100 %.
  function setupZoom(viewer) {
    var boxEl = viewer.querySelector("[data-zoom-box]");
    if (!boxEl) return null;
    var img = boxEl.querySelector("[data-zoom-img]");
    var label = viewer.querySelector("[data-zoom-label]");
    var scale = 0; // 0 = fit
    function apply() {
      boxEl.classList.toggle("is-fit", scale === 0);
      img.style.width = scale ? Math.round(img.naturalWidth * scale) + "px" : "";
      label.textContent = scale ? Math.round(scale * 100) + " %" : "Fit";
    }
    function fitScale() {
      return img.naturalWidth ? Math.min(1, boxEl.clientWidth / img.naturalWidth) : 1;
    }
    function zoom(how) {
      if (how === "toggle") scale = scale ? 0 : 1;
      else {
        var now = scale || fitScale();
        scale = Math.min(16, Math.max(0.05, how === "in" ? now * 1.5 : now / 1.5));
      }
      apply();
    }
    img.addEventListener("click", function () { zoom("toggle"); });
    viewer.querySelectorAll("[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () { zoom(button.dataset.zoom); });
    });
    return { reset: function () { scale = 0; apply(); }, img: img };
  }

  function setupSequence() {
    var viewer = document.getElementById("sequence-viewer");
    var images = readJson("sequence-images");
    if (!viewer || !images || !images.length) return;
    var zoom = setupZoom(viewer);
    var k = 0;
    var download = viewer.querySelector("[data-seq-download]");
    function show() {
      var image = images[k];
      zoom.img.alt = image.title;
      if (image.src) zoom.img.src = image.src; else zoom.img.removeAttribute("src");
      download.hidden = !image.src;
      if (image.src) { download.href = image.src; download.setAttribute("download", image.title); }
      viewer.querySelector("[data-seq-k]").textContent = String(k + 1);
      viewer.querySelector("[data-seq-title]").textContent = image.title;
      viewer.dataset.index = String(k);
    }
    function move(by) {
      k = Math.max(0, Math.min(images.length - 1, k + by));
      show();
    }
    viewer.querySelectorAll("[data-seq]").forEach(function (button) {
      button.addEventListener("click", function () { move(parseInt(button.dataset.seq, 10)); });
    });
    viewer.addEventListener("keydown", function (event) {
      var by = { ArrowLeft: -1, ArrowRight: 1 }[event.key];
      if (by && !event.target.closest("input, textarea")) { event.preventDefault(); move(by); }
    });
    show();
  }

  // A file that is gone (or a link that expired) says so instead of showing a broken player.
  function sayWhenUnloadable(el, what) {
    if (!el) return;
    function failed() {
      if (what === "image" && !el.getAttribute("src")) return;
      var note = el.parentNode.querySelector(".viewer-error") || document.createElement("p");
      note.className = "viewer-error form-error";
      note.setAttribute("role", "alert");
      note.textContent = "The " + what + " file could not be loaded: it may have been deleted, or this page's link " +
        "expired (reload the page).";
      el.insertAdjacentElement("afterend", note);
    }
    el.addEventListener("error", failed);
    // It may have failed before this (deferred) script ran.
    if (what === "video" ? el.error : el.complete && el.getAttribute("src") && !el.naturalWidth) failed();
    el.addEventListener(what === "image" ? "load" : "loadeddata", function () {
      var note = el.parentNode.querySelector(".viewer-error");
      if (note) note.remove();
    });
  }

  sayWhenUnloadable(document.getElementById("player"), "video");
  document.querySelectorAll("[data-zoom-img]").forEach(function (img) { sayWhenUnloadable(img, "image"); });
  setupVideo();
  var imageViewer = document.getElementById("image-viewer");
  if (imageViewer) setupZoom(imageViewer);
  setupSequence();
})();
