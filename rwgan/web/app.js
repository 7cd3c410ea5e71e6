// rwgan serve: open a photo, paint the hole, remove it, compare, download.
// The photo file is sent to the server as it is (the server decodes it, turns it upright
// by its EXIF orientation, and keeps its colour mode); the mask is a PNG of the upright
// photo's size, white = hole, black = keep.  State is shown in <body data-state>:
// empty | painting | busy | result.
"use strict";

const $ = (id) => document.getElementById(id);
const els = {
  file: $("file"), brush: $("brush"), brushValue: $("brush-value"), undo: $("undo"), clear: $("clear"),
  run: $("run"), back: $("back"), reuse: $("reuse"), download: $("download"), downloadMask: $("download-mask"),
  message: $("message"), model: $("model"), main: $("main"), editor: $("editor"), photo: $("photo"),
  strokes: $("strokes"), cursor: $("cursor"), compare: $("compare"), view: $("compare-view"),
  before: $("before"), after: $("after"), divider: $("divider"), split: $("split"),
};
const STROKE_COLOUR = "rgb(255, 48, 48)";
const state = {
  info: null, name: "", fileB64: null, width: 0, height: 0, previewUrl: null,
  strokes: [], current: null, busy: false, resultUrl: null, maskUrl: null,
};

function setState(name) { document.body.dataset.state = name; }

function say(text, isError = false) {
  els.message.textContent = text;
  els.message.classList.toggle("error", isError);
  els.message.setAttribute("role", isError ? "alert" : "status");
}

function updateButtons() {
  const painting = document.body.dataset.state === "painting";
  const hasStrokes = state.strokes.length > 0;
  els.undo.disabled = !painting || !hasStrokes || state.busy;
  els.clear.disabled = !painting || !hasStrokes || state.busy;
  els.run.disabled = !painting || !hasStrokes || state.busy;
  els.file.disabled = state.busy;
}

// ------------------------------------------------------------------ server calls

async function answerOf(response) {
  let answer = null;
  try { answer = await response.json(); } catch (e) { /* no JSON body */ }
  if (!response.ok || !answer || answer.error) {
    throw new Error((answer && answer.error) || `the server answered ${response.status} ${response.statusText}`);
  }
  return answer;
}

async function call(url, options) {
  let response;
  try {
    response = await fetch(url, options);
  } catch (e) {
    throw new Error("could not reach the rwgan server (is `rwgan serve` still running?)");
  }
  return answerOf(response);
}

function blobToBase64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result.slice(reader.result.indexOf(",") + 1));
    reader.onerror = () => reject(new Error("could not read the file"));
    reader.readAsDataURL(blob);
  });
}

function base64ToBlob(b64, type) {
  const text = atob(b64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return new Blob([bytes], { type });
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("the browser could not show the image"));
    image.src = url;
  });
}

// ------------------------------------------------------------------ opening

async function openPhoto(blob, name) {
  if (state.busy) return;
  const limit = state.info ? state.info.max_upload_bytes : Infinity;
  if (blob.size > limit) {
    say(`${name}: file is ${(blob.size / 2 ** 20).toFixed(1)} MB, over the limit of ` +
        `${Math.round(limit / 2 ** 20)} MB`, true);
    return;
  }
  const previous = document.body.dataset.state;
  state.busy = true; setState("busy"); updateButtons();
  say(`Opening ${name}…`);
  try {
    const answer = await call("/api/open", {
      method: "POST", body: blob,
      headers: { "Content-Type": "application/octet-stream", "X-Filename": encodeURIComponent(name) },
    });
    const b64 = await blobToBase64(blob);
    const previewUrl = URL.createObjectURL(base64ToBlob(answer.preview, "image/png"));
    const image = await loadImage(previewUrl);
    if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
    Object.assign(state, { name, fileB64: b64, width: answer.width, height: answer.height, previewUrl,
                           strokes: [], current: null });
    for (const canvas of [els.photo, els.strokes]) { canvas.width = answer.width; canvas.height = answer.height; }
    els.photo.getContext("2d").drawImage(image, 0, 0);
    redrawStrokes();
    showEditor();
    els.download.hidden = els.downloadMask.hidden = true;
    say(`${name}: ${answer.width} × ${answer.height} (${answer.mode}). Paint over what to remove, then press Remove.`);
  } catch (e) {
    state.busy = false;
    setState(state.fileB64 ? (previous === "busy" ? "painting" : previous) : "empty");
    updateButtons();
    say(e.message, true);
    return;
  }
  state.busy = false; setState("painting"); updateButtons();
}

function fitEditor() {
  if (!state.width) return;
  const available = els.main.clientWidth;
  const tall = Math.max(240, window.innerHeight - 190) * state.width / state.height;
  const width = Math.floor(Math.min(available, tall));  // small photos are enlarged, to paint them easily
  els.editor.style.width = els.compare.style.width = `${width}px`;
  const rendering = width >= 2 * state.width ? "pixelated" : "auto";
  for (const el of [els.photo, els.strokes, els.before, els.after]) el.style.imageRendering = rendering;
}

function showEditor() {
  els.editor.hidden = false; els.compare.hidden = true;
  for (const el of [els.back, els.reuse]) el.hidden = true;
  for (const el of [els.undo, els.clear, els.run]) el.hidden = false;
  fitEditor();
}

// ------------------------------------------------------------------ painting

function brushInImagePixels() {
  const rect = els.strokes.getBoundingClientRect();
  return Number(els.brush.value) * state.width / Math.max(rect.width, 1);
}

function toImage(event) {
  const rect = els.strokes.getBoundingClientRect();
  return [(event.clientX - rect.left) * state.width / rect.width,
          (event.clientY - rect.top) * state.height / rect.height];
}

function drawStroke(ctx, stroke, colour, from = 0) {
  ctx.strokeStyle = ctx.fillStyle = colour;
  ctx.lineWidth = stroke.size; ctx.lineCap = "round"; ctx.lineJoin = "round";
  const points = stroke.points;
  if (points.length === 1) {
    ctx.beginPath(); ctx.arc(points[0][0], points[0][1], stroke.size / 2, 0, 2 * Math.PI); ctx.fill();
    return;
  }
  ctx.beginPath();
  ctx.moveTo(points[Math.max(0, from - 1)][0], points[Math.max(0, from - 1)][1]);
  for (let i = Math.max(1, from); i < points.length; i++) ctx.lineTo(points[i][0], points[i][1]);
  ctx.stroke();
}

function redrawStrokes() {
  const ctx = els.strokes.getContext("2d");
  ctx.clearRect(0, 0, els.strokes.width, els.strokes.height);
  for (const stroke of state.strokes) drawStroke(ctx, stroke, STROKE_COLOUR);
}

function moveCursor(event) {
  const rect = els.editor.getBoundingClientRect();
  const size = Number(els.brush.value);
  Object.assign(els.cursor.style, { left: `${event.clientX - rect.left}px`, top: `${event.clientY - rect.top}px`,
                                    width: `${size}px`, height: `${size}px` });
  els.cursor.hidden = false;
}

els.strokes.addEventListener("pointerdown", (event) => {
  if (state.busy || document.body.dataset.state !== "painting" || event.button !== 0) return;
  event.preventDefault();
  els.strokes.setPointerCapture(event.pointerId);
  state.current = { size: brushInImagePixels(), points: [toImage(event)] };
  state.strokes.push(state.current);
  drawStroke(els.strokes.getContext("2d"), state.current, STROKE_COLOUR);
  updateButtons();
});
els.strokes.addEventListener("pointermove", (event) => {
  moveCursor(event);
  if (!state.current) return;
  state.current.points.push(toImage(event));
  drawStroke(els.strokes.getContext("2d"), state.current, STROKE_COLOUR, state.current.points.length - 1);
});
for (const type of ["pointerup", "pointercancel"]) {
  els.strokes.addEventListener(type, () => { state.current = null; updateButtons(); });
}
els.strokes.addEventListener("pointerleave", () => { els.cursor.hidden = true; });

function undo() {
  if (state.busy || !state.strokes.length) return;
  state.strokes.pop(); redrawStrokes(); updateButtons();
}
els.undo.addEventListener("click", undo);
els.clear.addEventListener("click", () => { state.strokes = []; redrawStrokes(); updateButtons(); });
els.brush.addEventListener("input", () => { els.brushValue.textContent = els.brush.value; });
document.addEventListener("keydown", (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") { event.preventDefault(); undo(); }
});

// ------------------------------------------------------------------ running

async function maskPng() {
  // White = hole wherever a stroke touched a pixel (the brush's soft edge included), black elsewhere.
  const canvas = document.createElement("canvas");
  canvas.width = state.width; canvas.height = state.height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  for (const stroke of state.strokes) drawStroke(ctx, stroke, "#fff");
  const image = ctx.getImageData(0, 0, state.width, state.height);
  const data = image.data;
  for (let i = 0; i < data.length; i += 4) {
    const value = data[i + 3] > 0 ? 255 : 0;
    data[i] = data[i + 1] = data[i + 2] = value; data[i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
}

async function run() {
  if (state.busy || !state.strokes.length) return;
  state.busy = true; setState("busy"); updateButtons();
  say("Removing… (the model runs on the server)");
  try {
    const mask = await maskPng();
    const answer = await call("/api/inpaint", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ image: state.fileB64, mask: await blobToBase64(mask), filename: state.name }),
    });
    for (const url of [state.resultUrl, state.maskUrl]) if (url) URL.revokeObjectURL(url);
    state.resultB64 = answer.result;
    state.resultUrl = URL.createObjectURL(base64ToBlob(answer.result, "image/png"));
    state.maskUrl = URL.createObjectURL(mask);
    await Promise.all([loadImage(state.resultUrl), loadImage(state.previewUrl)]);
    els.after.src = state.resultUrl; els.before.src = state.previewUrl;
    els.download.href = state.resultUrl; els.download.download = answer.filename;
    els.downloadMask.href = state.maskUrl;
    els.downloadMask.download = answer.filename.replace(/-inpainted\.png$/, "-mask.png");
    showCompare();
    state.busy = false; setState("result"); updateButtons();
    say(`Done in ${answer.seconds} s. Drag across the image to compare before and after.`);
  } catch (e) {
    state.busy = false; setState("painting"); updateButtons();
    say(e.message, true);
  }
}
els.run.addEventListener("click", run);

function setSplit(percent) {
  percent = Math.min(100, Math.max(0, percent));
  els.split.value = String(percent);
  els.before.style.clipPath = `inset(0 ${100 - percent}% 0 0)`;
  els.divider.style.left = `calc(${percent}% - 1px)`;
}

function showCompare() {
  els.editor.hidden = true; els.compare.hidden = false;
  for (const el of [els.undo, els.clear, els.run]) el.hidden = true;
  for (const el of [els.back, els.reuse, els.download, els.downloadMask]) el.hidden = false;
  fitEditor(); setSplit(50);
}

els.split.addEventListener("input", () => setSplit(Number(els.split.value)));
els.view.addEventListener("pointerdown", (event) => {
  els.view.setPointerCapture(event.pointerId);
  const rect = els.view.getBoundingClientRect();
  setSplit(100 * (event.clientX - rect.left) / rect.width);
});
els.view.addEventListener("pointermove", (event) => {
  if (!els.view.hasPointerCapture(event.pointerId)) return;
  const rect = els.view.getBoundingClientRect();
  setSplit(100 * (event.clientX - rect.left) / rect.width);
});
els.back.addEventListener("click", () => { showEditor(); setState("painting"); updateButtons(); say(
  "Paint more or undo, then press Remove again."); });
els.reuse.addEventListener("click", () => {
  openPhoto(base64ToBlob(state.resultB64, "image/png"), els.download.download);
});

// ------------------------------------------------------------------ files in

els.file.addEventListener("change", () => {
  const file = els.file.files[0];
  if (file) openPhoto(file, file.name);
  els.file.value = "";
});
document.addEventListener("dragover", (event) => { event.preventDefault(); document.body.classList.add("dragging"); });
document.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
document.addEventListener("drop", (event) => {
  event.preventDefault(); document.body.classList.remove("dragging");
  const file = event.dataTransfer.files[0];
  if (file) openPhoto(file, file.name);
});
window.addEventListener("resize", fitEditor);

(async () => {
  try {
    state.info = await call("/api/info");
    els.model.textContent = `model ${state.info.model} (${state.info.model_kind}, trained at ` +
      `${state.info.image_size} px) · photos up to ${Math.round(state.info.max_upload_bytes / 2 ** 20)} MB and ` +
      `${state.info.max_side} px a side`;
  } catch (e) {
    say(e.message, true);
  }
  updateButtons();
})();
