// aecodec's page: talks only to this service's API (same origin), keeps the API key in memory only.
"use strict";

const $ = (id) => document.getElementById(id);
const MAX_PSNR = 100; // the project's PSNR cap: an exact copy gets 100 dB (aecodec_wire.quality)
const state = { models: [], image: null, clean: null, patch: null, payloadUrls: [] };

// ---- API: bearer key from the field (never stored), errors as their problem detail ----

function authHeaders(extra) {
  const h = new Headers(extra || {});
  const key = $("api-key").value.trim();
  if (key) h.set("Authorization", "Bearer " + key);
  return h;
}

async function api(path, options = {}) {
  const r = await fetch(path, { ...options, headers: authHeaders(options.headers) });
  if (!r.ok) {
    let detail = `${r.status} ${r.statusText}`;
    try {
      const doc = await r.json();
      if (doc && doc.detail) detail = doc.detail;
    } catch (_) { /* not JSON: keep the status line */ }
    const err = new Error(detail);
    err.status = r.status;
    throw err;
  }
  return r;
}

function showError(err) {
  const box = $("error");
  box.dataset.status = err.status || "";
  box.textContent = err.status === 401
    ? "This service needs an API key. Type it in the \u201cAPI key\u201d field at the top right; the page keeps it " +
      "in memory only and sends it as \u201cAuthorization: Bearer \u2026\u201d.\nThe service said: " + err.message
    : (err.status ? `Error ${err.status}: ` : "") + err.message;
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

let running = 0;
async function task(fn) {
  clearError();
  running += 1;
  $("busy").hidden = false;
  try {
    return await fn();
  } catch (err) {
    showError(err);
  } finally {
    running -= 1;
    $("busy").hidden = running === 0;
  }
}

// ---- small helpers ----

function b64ToBlob(b64, type) {
  const raw = atob(b64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return new Blob([bytes], { type });
}

function loadImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("the browser cannot show this file as an image"));
    img.src = src;
  });
}

function pixelsOf(img) {
  const c = document.createElement("canvas");
  c.width = img.naturalWidth || img.width;
  c.height = img.naturalHeight || img.height;
  const ctx = c.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(img, 0, 0);
  return ctx.getImageData(0, 0, c.width, c.height);
}

function isGray(data) {
  const d = data.data;
  for (let i = 0; i < d.length; i += 4) if (d[i] !== d[i + 1] || d[i] !== d[i + 2]) return false;
  return true;
}

// one zoom for a whole row: tiny images scaled up by whole pixels, large ones fitted
function zoomFor(w, h) {
  const side = Math.max(w, h);
  return side <= 128 ? Math.max(1, Math.floor(224 / side)) : Math.min(1, 300 / side);
}

function setZoom(el, w, h, zoom) {
  el.style.width = Math.round(w * zoom) + "px";
  el.style.height = Math.round(h * zoom) + "px";
  el.classList.toggle("pixelated", zoom >= 2);
}

function psnr(a, b, gray) { // ImageData pair; the project's PSNR on 8-bit pixels, capped at 100 dB
  const x = a.data, y = b.data;
  let sum = 0, n = 0;
  for (let i = 0; i < x.length; i += 4) {
    for (let c = 0; c < (gray ? 1 : 3); c++) {
      const d = x[i + c] - y[i + c];
      sum += d * d;
      n += 1;
    }
  }
  return sum === 0 ? MAX_PSNR : Math.min(MAX_PSNR, 10 * Math.log10((255 * 255 * n) / sum));
}

const fmtBytes = (n) => n.toLocaleString("en-US") + " B";
const fmtDb = (v) => v.toFixed(2);

function dropZone(label, onFile) {
  const input = label.querySelector("input");
  input.addEventListener("change", () => input.files[0] && onFile(input.files[0]));
  label.addEventListener("dragover", (e) => { e.preventDefault(); label.classList.add("over"); });
  label.addEventListener("dragleave", () => label.classList.remove("over"));
  label.addEventListener("drop", (e) => {
    e.preventDefault();
    label.classList.remove("over");
    if (e.dataTransfer.files[0]) onFile(e.dataTransfer.files[0]);
  });
}

async function sample(name) {
  const r = await fetch("/static/" + name);
  if (!r.ok) throw new Error(`sample ${name} is missing (${r.status})`);
  return new File([await r.blob()], name, { type: r.headers.get("content-type") || "" });
}

// ---- models ----

async function loadModels() {
  await task(async () => {
    state.models = await (await api("/models")).json();
    fillCompressModels();
    fillSelect($("vae-model"), state.models.filter((m) => m.endpoints.includes("sample")));
    fillDenoiseModels();
  });
}

const preferAnySize = (m) => (m.input.height == null ? 0 : 1);
const family = (name) => name.replace(/-q\d+$/, "");

function fillSelect(select, models, rank) {
  const keep = select.value;
  const list = rank ? [...models].sort((a, b) => rank(a) - rank(b)) : models;
  select.replaceChildren(...list.map((m) => new Option(`${m.name} (${m.kind})`, m.name)));
  if (list.some((m) => m.name === keep)) select.value = keep;
  return list;
}

// a fixed-size model takes its own size only (and a grey one grey images only); any-size models take anything
function takes(m, img) {
  if (!m.endpoints.includes("encode") || !m.endpoints.includes("decode")) return false;
  if (!img) return true;
  if (m.input.height == null) return true;
  return m.input.width === img.width && m.input.height === img.height && (m.input.channels === 3 || img.gray);
}

// first the codecs made for this very size (a domain model), then any-size codecs, then the other kinds
const rank = (m) => (m.kind === "codec" ? 0 : 2) + (m.input.height == null ? 1 : 0);

// a preset (name-q3 of a variable-rate model) is picked as that model's quality, not listed as a model
function fillCompressModels(pickBest) {
  const fits = fillSelect($("model"), state.models.filter((m) => !m.preset_of && takes(m, state.image)), rank);
  if (pickBest && fits.length) $("model").value = fits[0].name;
  fillLevels();
}

// quality: a variable-rate model's presets (and a byte budget), the levels of a codec family (name-q1,
// name-q2, ...), or bits per latent value for the others
function fillLevels() {
  const name = $("model").value;
  const m = state.models.find((x) => x.name === name);
  const level = $("level");
  $("max-bytes-label").hidden = !(m && m.variable_rate);
  if (!m) { level.replaceChildren(); return; }
  const levels = state.models.filter((x) => /-q\d+$/.test(x.name) && !x.preset_of && family(x.name) === family(name) && takes(x, state.image));
  if (m.variable_rate) {
    const vr = m.variable_rate;
    const qs = [...Array(vr.quality_max - vr.quality_min + 1).keys()].map((i) => vr.quality_min + i);
    level.replaceChildren(...qs.map((q) => new Option(`q${q}`, String(q))));
    level.value = String(Math.round(vr.default_quality));
    level.dataset.kind = "quality";
  } else if (/-q\d+$/.test(name) && levels.length) {
    level.replaceChildren(...levels.map((x) => new Option(x.name.match(/q\d+$/)[0], x.name)));
    level.value = name;
    level.dataset.kind = "model";
  } else if (m.kind !== "codec") {
    level.replaceChildren(...[8, 7, 6, 5, 4, 3, 2].map((b) => new Option(`${b} bits`, String(b))));
    level.dataset.kind = "bits";
  } else {
    level.replaceChildren(new Option("one level", ""));
    level.dataset.kind = "none";
  }
}

// ---- Compress ----

async function setImage(file) {
  const url = URL.createObjectURL(file);
  const img = await loadImage(url);
  const px = pixelsOf(img);
  if (state.image) URL.revokeObjectURL(state.image.url);
  state.image = { file, url, width: px.width, height: px.height, gray: isGray(px) };
  $("image-info").textContent =
    `${file.name || "image"}: ${px.width}\u00d7${px.height}, ${state.image.gray ? "greyscale" : "colour"}, ${fmtBytes(file.size)}`;
  $("compare").hidden = true;
  if (!state.models.length) await loadModels(); // shows why when they cannot be listed (a missing key: 401)
  fillCompressModels(true);
  await setClean(file, url, img);
  if ($("model").value) await compress();
  else if (state.models.length) showError(new Error("no served model takes an image of this size; try another image or a sample"));
}

async function compress() {
  const im = state.image;
  if (!im) return showError(new Error("pick an image or a sample first"));
  const level = $("level");
  const model = $("model").value;
  if (!model) return showError(new Error("no model to compress with: the model list is empty (see the message above)"));
  const formats = ["jpeg", "webp"].filter((f) => $("with-" + f).checked);
  const q = new URLSearchParams({ model, formats: formats.join(",") });
  if (level.dataset.kind === "bits") q.set("bits", level.value);
  if (level.dataset.kind === "quality") { // a byte budget holds every codec to it; else the chosen quality
    const budget = $("max-bytes").value.trim();
    if (budget) q.set("max_bytes", budget);
    else q.set("quality", level.value);
  }
  const seq = (state.compareSeq = (state.compareSeq || 0) + 1);
  await task(async () => {
    const doc = await (await api("/compare?" + q, {
      method: "POST", body: im.file, headers: { "Content-Type": im.file.type || "application/octet-stream" },
    })).json();
    if (seq === state.compareSeq) showComparison(doc, im); // a later choice is on its way: show that one
  });
}

function showComparison(doc, im) {
  const L = doc.learned;
  const zoom = zoomFor(doc.width, doc.height);
  const orig = $("original-img");
  orig.src = im.url;
  setZoom(orig, doc.width, doc.height, zoom);
  $("orig-caption").textContent =
    `${doc.width}\u00d7${doc.height} ${doc.mode}${doc.alpha ? " + alpha" : ""}, PNG ${fmtBytes(doc.png_bytes)}`;
  const dec = $("decoded-img");
  dec.src = "data:image/png;base64," + L.image;
  setZoom(dec, doc.width, doc.height, zoom);
  $("decoded-model").textContent = L.quality == null ? L.model : `${L.model} at quality ${L.quality}`;
  $("payload-bytes").textContent = String(L.bytes);
  $("bpp").textContent = L.bpp.toFixed(3);
  $("ratio").textContent = `${(doc.png_bytes / L.bytes).toFixed(1)}\u00d7 smaller`;
  $("psnr").textContent = fmtDb(L.psnr);
  $("psnr").dataset.value = String(L.psnr);
  $("ssim").textContent = L.ssim.toFixed(4);
  $("times").textContent = `${L.encode_ms.toFixed(1)} / ${L.decode_ms.toFixed(1)} ms`;
  $("kept").textContent = kept(doc);
  for (const u of state.payloadUrls) URL.revokeObjectURL(u);
  const base = (im.file.name || "image").replace(/\.[^.]*$/, "");
  const aec = URL.createObjectURL(b64ToBlob(L.payload, "application/octet-stream"));
  const png = URL.createObjectURL(b64ToBlob(L.image, "image/png"));
  state.payloadUrls = [aec, png];
  Object.assign($("dl-payload"), { href: aec, download: `${base}.${L.model}.aec` });
  Object.assign($("dl-png"), { href: png, download: `${base}.${L.model}.png` });
  $("classical").replaceChildren(...doc.classical.map((c) => classicalFigure(c, doc, zoom)));
  $("compare").hidden = false;
}

// what the payload carries beside the pixels, as the service reported it (docs/service.md, metadata)
function kept(doc) {
  const parts = [];
  if (doc.orientation_applied !== 1) parts.push(`turned upright (EXIF orientation ${doc.orientation_applied})`);
  if (doc.icc_profile_bytes) parts.push(`colour profile (${fmtBytes(doc.icc_profile_bytes)})`);
  if (doc.alpha) parts.push("transparency (lossless)");
  return parts.length ? parts.join(", ") : "the pixels (no profile, opaque)";
}

function classicalFigure(c, doc, zoom) {
  const fig = document.createElement("figure");
  fig.dataset.testid = "classical-" + c.format;
  const img = document.createElement("img");
  img.src = `data:${c.media_type};base64,${c.image}`;
  img.alt = c.format;
  setZoom(img, doc.width, doc.height, zoom);
  const cap = document.createElement("figcaption");
  const name = { jpeg: "JPEG", webp: "WebP", avif: "AVIF" }[c.format] || c.format;
  cap.innerHTML = "<b></b> <span class=q></span><table class=stats>" +
    "<tr><th>file</th><td data-testid=bytes></td></tr><tr><th>PSNR</th><td data-testid=psnr></td></tr>" +
    "<tr><th>SSIM</th><td></td></tr></table><div class=nearest></div>";
  cap.querySelector("b").textContent = name;
  cap.querySelector(".q").textContent = `quality ${c.quality}`;
  const cells = cap.querySelectorAll("td");
  cells[0].textContent = fmtBytes(c.bytes);
  cells[1].textContent = fmtDb(c.psnr) + " dB";
  cells[1].dataset.value = String(c.psnr);
  cells[2].textContent = c.ssim.toFixed(4);
  cap.querySelector(".nearest").classList.toggle("flagged", c.nearest);
  cap.querySelector(".nearest").textContent = c.nearest
    ? `nearest: even the lowest quality takes ${fmtBytes(c.bytes)}, more than the payload`
    : `same bytes: the largest ${name} within ${fmtBytes(doc.learned.bytes)}`;
  if (doc.alpha && !c.alpha) cap.querySelector(".nearest").textContent += `; no transparency: ${name} cannot hold it`;
  fig.append(img, cap);
  return fig;
}

async function decodePayload(file) {
  await task(async () => {
    const r = await api("/decode", {
      method: "POST", body: file, headers: { "Content-Type": "application/octet-stream", Accept: "image/png" },
    });
    const url = URL.createObjectURL(await r.blob());
    const img = $("payload-img");
    const shown = await loadImage(url);
    img.src = url;
    setZoom(img, shown.naturalWidth, shown.naturalHeight, zoomFor(shown.naturalWidth, shown.naturalHeight));
    $("payload-caption").textContent =
      `${file.name}: ${fmtBytes(file.size)} \u2192 ${shown.naturalWidth}\u00d7${shown.naturalHeight} by ${r.headers.get("X-Aecodec-Model")}`;
    $("payload-result").hidden = false;
  });
}

// ---- Denoise: noise is added here, on a canvas; the clean original gives the PSNRs ----

async function setClean(file, url, img) {
  img = img || await loadImage(url || URL.createObjectURL(file));
  state.clean = pixelsOf(img);
  state.cleanGray = isGray(state.clean);
  state.noisyUpload = null;
  state.noisy = null;
  state.patch = null;
  drawCanvas($("clean-canvas"), state.clean);
  fillDenoiseModels();
  makeNoisy();
}

function drawCanvas(canvas, data) {
  canvas.width = data.width;
  canvas.height = data.height;
  canvas.getContext("2d").putImageData(data, 0, 0);
  setZoom(canvas, data.width, data.height, zoomFor(data.width, data.height));
}

function gaussian(rng) { // Box-Muller on a seeded generator: the same slider gives the same noise
  let u = 0;
  while (u === 0) u = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeNoisy() {
  $("sigma-out").textContent = $("sigma").value;
  $("patch-out").textContent = $("patch").value;
  if (!state.clean || state.noisyUpload) return;
  const sigma = Number($("sigma").value);
  const src = state.clean;
  const out = new ImageData(new Uint8ClampedArray(src.data), src.width, src.height);
  const d = out.data;
  const rng = mulberry32(1234);
  for (let i = 0; i < d.length; i += 4) {
    if (state.cleanGray) {
      const v = d[i] + sigma * gaussian(rng);
      d[i] = d[i + 1] = d[i + 2] = v;
    } else {
      for (let c = 0; c < 3; c++) d[i + c] = d[i + c] + sigma * gaussian(rng);
    }
  }
  const side = Math.round((Number($("patch").value) / 100) * Math.min(src.width, src.height));
  if (side > 0) {
    const p = state.patch || { x: src.width / 2, y: src.height / 2 };
    const x0 = Math.max(0, Math.round(p.x - side / 2)), y0 = Math.max(0, Math.round(p.y - side / 2));
    for (let y = y0; y < Math.min(src.height, y0 + side); y++) {
      for (let x = x0; x < Math.min(src.width, x0 + side); x++) {
        const i = (y * src.width + x) * 4;
        d[i] = d[i + 1] = d[i + 2] = 0;
      }
    }
  }
  state.noisy = out;
  drawCanvas($("noisy-canvas"), out);
  $("noisy-psnr").textContent = `${fmtDb(psnr(src, out, state.cleanGray))} dB`;
  $("denoised-img").hidden = true;
  $("denoised-psnr").textContent = "";
}

async function setNoisyUpload(file) {
  const img = await loadImage(URL.createObjectURL(file));
  state.noisy = pixelsOf(img);
  state.noisyUpload = file;
  state.clean = null;
  const blank = new ImageData(1, 1);
  drawCanvas($("clean-canvas"), blank);
  drawCanvas($("noisy-canvas"), state.noisy);
  $("noisy-psnr").textContent = "(no clean original: no PSNR)";
  fillDenoiseModels();
}

function fillDenoiseModels() {
  const px = state.noisy || state.clean;
  const img = px && { width: px.width, height: px.height, gray: isGray(px) };
  const fit = state.models.filter((m) => m.endpoints.includes("denoise") &&
    (!img || m.input.height == null || (m.input.width === img.width && m.input.height === img.height)));
  fillSelect($("denoise-model"), fit, preferAnySize);
  sigmaChoice();
}

// only any-size denoisers take a noise level (?sigma=); the fixed-size ones refuse it
function sigmaChoice() {
  const m = state.models.find((x) => x.name === $("denoise-model").value);
  $("send-sigma").disabled = !m || m.input.height != null;
}

async function denoise() {
  if (!state.noisy) return showError(new Error("pick a clean image (noise is added here) or upload a noisy one"));
  const model = $("denoise-model").value;
  if (!model) return showError(new Error("no served denoising model takes an image of this size"));
  const q = new URLSearchParams({ model });
  const anySize = state.models.some((m) => m.name === model && m.input.height == null);
  if ($("send-sigma").checked && anySize && !state.noisyUpload) q.set("sigma", $("sigma").value);
  await task(async () => {
    const body = state.noisyUpload || await new Promise((res) => $("noisy-canvas").toBlob(res, "image/png"));
    const r = await api("/denoise?" + q, { method: "POST", body, headers: { "Content-Type": "image/png", Accept: "image/png" } });
    const url = URL.createObjectURL(await r.blob());
    const img = await loadImage(url);
    const out = $("denoised-img");
    out.src = url;
    out.hidden = false;
    setZoom(out, img.naturalWidth, img.naturalHeight, zoomFor(img.naturalWidth, img.naturalHeight));
    const clean = state.clean;
    $("denoised-psnr").textContent = clean && clean.width === img.naturalWidth && clean.height === img.naturalHeight
      ? `${fmtDb(psnr(clean, pixelsOf(img), state.cleanGray))} dB (${r.headers.get("X-Aecodec-Model")})`
      : `(${r.headers.get("X-Aecodec-Model")})`;
  });
}

// ---- Generate ----

function showImages(box, doc) {
  box.replaceChildren(...doc.images.map((b64) => {
    const img = new Image();
    img.src = "data:image/png;base64," + b64;
    return img;
  }));
}

async function sampleGrid() {
  const model = $("vae-model").value;
  if (!model) return showError(new Error("no VAE model is served: /sample needs one"));
  const n = Number($("n").value);
  const q = new URLSearchParams({ model, n: String(n), seed: $("seed").value || "0", temperature: $("temperature").value });
  await task(async () => {
    const doc = await (await api("/sample?" + q, { method: "POST", headers: { Accept: "application/json" } })).json();
    $("grid").style.gridTemplateColumns = `repeat(${Math.ceil(Math.sqrt(n))}, 84px)`;
    showImages($("grid"), doc);
  });
}

let digitSprite = null; // digits.png: one test digit of each class, 0..9, side by side

function digitCanvas(k, canvas) {
  canvas = canvas || document.createElement("canvas");
  canvas.width = canvas.height = 28;
  canvas.getContext("2d").drawImage(digitSprite, 28 * k, 0, 28, 28, 0, 0, 28, 28);
  return canvas;
}

async function interpolate() {
  const model = $("vae-model").value;
  if (!model || !digitSprite) return showError(new Error("no VAE model is served: /interpolate needs one"));
  const form = new FormData();
  for (const id of ["digit-a", "digit-b"]) {
    const blob = await new Promise((res) => digitCanvas(Number($(id).value)).toBlob(res, "image/png"));
    form.append("files", blob, id + ".png");
  }
  const q = new URLSearchParams({ model, steps: $("steps").value });
  await task(async () => {
    const doc = await (await api("/interpolate?" + q, { method: "POST", body: form, headers: { Accept: "application/json" } })).json();
    showImages($("strip"), doc);
  });
}

// ---- wiring ----

function showTab(name) {
  for (const b of document.querySelectorAll("nav button")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== name;
}

async function start() {
  for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  let keyTimer = null;
  const keyChanged = async () => {
    await loadModels();
    if (state.models.length && state.image) await compress();
  };
  $("api-key").addEventListener("input", () => { clearTimeout(keyTimer); keyTimer = setTimeout(keyChanged, 400); });
  dropZone($("image-drop"), (f) => (/\.aec$/i.test(f.name) ? decodePayload(f) : task(() => setImage(f))));
  dropZone($("payload-drop"), decodePayload);
  dropZone(document.querySelector("[data-testid=denoise-drop]"), (f) => task(() => setClean(f)));
  $("noisy-input").addEventListener("change", (e) => e.target.files[0] && task(() => setNoisyUpload(e.target.files[0])));
  for (const b of document.querySelectorAll("[data-sample]")) b.addEventListener("click", () => task(async () => setImage(await sample(b.dataset.sample))));
  for (const b of document.querySelectorAll("[data-clean]")) b.addEventListener("click", () => task(async () => setClean(await sample(b.dataset.clean))));
  $("model").addEventListener("change", () => { fillLevels(); compress(); });
  $("level").addEventListener("change", () => {
    if ($("level").dataset.kind === "model") $("model").value = $("level").value;
    compress();
  });
  $("compress-btn").addEventListener("click", compress);
  $("max-bytes").addEventListener("change", compress);
  for (const id of ["with-jpeg", "with-webp"]) $(id).addEventListener("change", compress);
  $("sigma").addEventListener("input", makeNoisy);
  $("patch").addEventListener("input", makeNoisy);
  $("noisy-canvas").addEventListener("click", (e) => {
    if (!state.clean) return;
    const r = e.target.getBoundingClientRect();
    state.patch = { x: ((e.clientX - r.left) / r.width) * state.clean.width, y: ((e.clientY - r.top) / r.height) * state.clean.height };
    if (Number($("patch").value) === 0) $("patch").value = "20";
    makeNoisy();
  });
  $("denoise-btn").addEventListener("click", denoise);
  $("denoise-model").addEventListener("change", sigmaChoice);
  $("temperature").addEventListener("input", () => { $("temperature-out").textContent = Number($("temperature").value).toFixed(1); });
  $("steps").addEventListener("input", () => { $("steps-out").textContent = $("steps").value; });
  $("sample-btn").addEventListener("click", sampleGrid);
  $("interpolate-btn").addEventListener("click", interpolate);
  for (const [id, k] of [["digit-a", 1], ["digit-b", 7]]) {
    $(id).replaceChildren(...[...Array(10).keys()].map((d) => new Option(String(d), String(d))));
    $(id).value = String(k);
    $(id).addEventListener("change", () => digitCanvas(Number($(id).value), $(id + "-view")));
  }
  digitSprite = await loadImage("/static/digits.png");
  for (const id of ["digit-a", "digit-b"]) digitCanvas(Number($(id).value), $(id + "-view"));
  await loadModels();
  document.body.dataset.ready = "true";
}

start();
