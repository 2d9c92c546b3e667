// relupde dashboard: plain JavaScript over the REST API (docs/service.md, "Dashboard").
// The API key lives in `state.key` only (this page's memory); every request sends it as
// `Authorization: Bearer <key>`.  Live progress comes from GET /v1/jobs/{id}/events, read
// with fetch (EventSource cannot send headers).  Text from the server is set with
// textContent, never parsed as HTML.
"use strict";

const TERMINAL = new Set(["succeeded", "failed", "canceled"]);
const REFRESH_MS = 10000;  // the job list is re-read this often (jobs submitted elsewhere)
const state = {
  key: "",
  jobs: new Map(),      // id -> job JSON
  streams: new Map(),   // id -> AbortController of its event stream
  selected: null,       // job id
  model: null,          // the selected job's model JSON
  examples: [],
  lossRefreshedAt: 0,
  refresher: null,      // interval id of the job-list refresh
  images: new Map(),    // img element -> object URL
};

const $ = (id) => document.getElementById(id);

function headers(extra = {}) {
  const h = { ...extra };
  if (state.key) h["Authorization"] = `Bearer ${state.key}`;
  return h;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers || {}) });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body && body.error) message = `${body.error.code}: ${body.error.message}`;
    } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

async function showImage(img, path) {
  const response = await api(path);
  const url = URL.createObjectURL(await response.blob());
  const old = state.images.get(img);
  img.src = url;
  state.images.set(img, url);
  if (old) URL.revokeObjectURL(old);
}

// ------------------------------------------------------------------ connection
async function connect(event) {
  event.preventDefault();
  state.key = $("api-key").value.trim();
  forgetJobs();  // another key may be another tenant
  $("connection").textContent = "connecting...";
  try {
    await refreshJobs();
    await loadExamples();
    if (state.refresher === null) {
      state.refresher = setInterval(() => refreshJobs().catch(() => {}), REFRESH_MS);
    }
    $("connection").textContent = "connected";
    $("connection").className = "";
  } catch (err) {
    $("connection").textContent = `not connected: ${err.message}`;
    $("connection").className = "error";
  }
}

function forgetJobs() {
  for (const controller of state.streams.values()) controller.abort();
  state.streams.clear();
  state.jobs.clear();
  state.selected = null;
  state.model = null;
  $("job-rows").replaceChildren();
  $("jobs-empty").hidden = false;
  $("detail").hidden = true;
}

// ------------------------------------------------------------------ examples and submit
async function loadExamples() {
  const body = await (await api("/v1/examples")).json();
  state.examples = body.examples;
  const select = $("example");
  select.replaceChildren();
  for (const example of state.examples) {
    const option = document.createElement("option");
    option.value = example.name;
    option.textContent = example.name;
    select.appendChild(option);
  }
  if (state.examples.length) chooseExample();
}

function chooseExample() {
  const example = state.examples.find((e) => e.name === $("example").value);
  if (!example) return;
  $("spec").value = JSON.stringify(example.spec, null, 2);
  $("steps").value = (example.spec.training && example.spec.training.steps) || "";
}

function setSteps() {
  // rewrite training.steps of the spec in the text area
  const steps = parseInt($("steps").value, 10);
  if (!(steps >= 1)) return;
  try {
    const spec = JSON.parse($("spec").value);
    spec.training = spec.training || {};
    spec.training.steps = steps;
    $("spec").value = JSON.stringify(spec, null, 2);
  } catch (_) { /* the user is editing the JSON; submit will report it */ }
}

async function submitJob() {
  const status = $("submit-status");
  let spec;
  try {
    spec = JSON.parse($("spec").value);
  } catch (err) {
    status.textContent = `the spec is not valid JSON: ${err.message}`;
    status.className = "error";
    return;
  }
  try {
    const response = await api("/v1/jobs", {
      method: "POST",
      body: JSON.stringify(spec),
      headers: { "Content-Type": "application/json" },
    });
    const job = await response.json();
    status.textContent = `submitted job ${job.id}`;
    status.className = "";
    upsertJob(job);
    select(job.id);
  } catch (err) {
    status.textContent = err.message;
    status.className = "error";
  }
}

// ------------------------------------------------------------------ jobs
async function refreshJobs() {
  const body = await (await api("/v1/jobs?page_size=50")).json();
  for (const job of body.jobs) upsertJob(job);
}

function upsertJob(job) {
  state.jobs.set(job.id, job);
  renderRow(job);
  if (!TERMINAL.has(job.status) && !state.streams.has(job.id)) follow(job.id);
  if (job.id === state.selected) renderDetail(job);
}

function renderRow(job) {
  let row = document.querySelector(`tr[data-job-id="${job.id}"]`);
  if (!row) {
    row = document.createElement("tr");
    row.dataset.jobId = job.id;
    for (let i = 0; i < 5; i++) row.appendChild(document.createElement("td"));
    row.addEventListener("click", () => select(job.id));
    const body = $("job-rows");
    body.insertBefore(row, body.firstChild);  // newest first
    $("jobs-empty").hidden = true;
  }
  row.dataset.status = job.status;
  const [name, status, progress, loss, created] = row.children;
  name.textContent = job.name || job.id.slice(0, 8);
  status.textContent = job.status;
  status.className = `status-${job.status}`;
  const p = job.progress || { step: 0, steps: 1 };
  let bar = progress.querySelector("progress");
  if (!bar) {
    bar = document.createElement("progress");
    progress.appendChild(bar);
    progress.appendChild(document.createElement("span"));
  }
  bar.max = Math.max(p.steps, 1);
  bar.value = p.step;
  progress.querySelector("span").textContent = ` ${p.step} / ${p.steps}`;
  loss.textContent = p.loss == null ? "" : Number(p.loss).toExponential(3);
  created.textContent = new Date(job.created_at).toLocaleString();
}

async function follow(jobId) {
  const controller = new AbortController();
  state.streams.set(jobId, controller);
  try {
    const response = await api(`/v1/jobs/${jobId}/events`, { signal: controller.signal });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        if (data) upsertJob(JSON.parse(data));
      }
    }
  } catch (err) {
    if (err.name !== "AbortError") $("connection").textContent = `event stream: ${err.message}`;
  } finally {
    state.streams.delete(jobId);
  }
}

// ------------------------------------------------------------------ one job
function select(jobId) {
  state.selected = jobId;
  state.model = null;
  for (const row of document.querySelectorAll("#job-rows tr")) {
    row.classList.toggle("selected", row.dataset.jobId === jobId);
  }
  $("model").hidden = true;
  $("detail").hidden = false;
  state.lossRefreshedAt = 0;
  renderDetail(state.jobs.get(jobId));
}

function renderDetail(job) {
  if (!job) return;
  $("detail-title").textContent = job.name || job.id;
  $("detail").dataset.status = job.status;
  const p = job.progress || {};
  let text = `${job.status}, step ${p.step} of ${p.steps}, ${Number(p.elapsed_s || 0).toFixed(1)} s`;
  if (job.error) text += ` - ${job.error}`;
  $("detail-status").textContent = text;
  const now = Date.now();
  if (TERMINAL.has(job.status) || now - state.lossRefreshedAt > 2000) {
    state.lossRefreshedAt = now;
    showImage($("loss-plot"), `/v1/jobs/${job.id}/loss.png`).catch((err) => {
      $("detail-status").textContent += ` (loss plot: ${err.message})`;
    });
  }
  if (job.status === "succeeded" && job.model_id && (!state.model || state.model.id !== job.model_id)) {
    loadModel(job.model_id);
  }
}

function fillSelect(select, values, chosen) {
  select.replaceChildren();
  for (const value of values) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = value;
    option.selected = value === chosen;
    select.appendChild(option);
  }
}

async function loadModel(modelId) {
  const model = await (await api(`/v1/models/${modelId}`)).json();
  state.model = model;
  const facts = $("model-facts").tBodies[0];
  facts.replaceChildren();
  const add = (name, value) => {
    const row = facts.insertRow();
    row.insertCell().textContent = name;
    row.insertCell().textContent = value;
  };
  add("model id", model.id);
  add("inputs", model.inputs.join(", "));
  add("widths", model.architecture.widths.join(" - "));
  if (model.errors) {
    add("rel L2 error", Number(model.errors.rel_l2).toExponential(3));
    add("max |u - u*|", Number(model.errors.linf).toExponential(3));
    add("max |grad u - grad u*|", Number(model.errors.grad_linf).toExponential(3));
  } else {
    add("errors", "no `exact` in the spec");
  }
  const symbols = {
    max_abs_error: "max |u - u*|",
    rms_error: "rms |u - u*|",
    max_gradient_error: "max |Du - Du*|",
    rms_gradient_error: "rms |grad u - grad u*|",
  };
  const bounds = (model.estimate && model.estimate.bounds) || [];
  if (model.estimate && model.estimate.verdict) add("verdict (no exact used)", model.estimate.verdict);
  for (const b of bounds) {
    const value = b.value === null ? "inf" : Number(b.value).toExponential(2);
    const trust = b.kind === "statistical" ? `statistical, ${100 * b.confidence}%` : b.kind;
    add(`${symbols[b.quantity] || b.quantity} <=`, `${value} (${trust}): ${b.how}`);
  }
  const global = model.estimate && model.estimate.eps_value !== undefined;
  if (global) {
    const e = model.estimate;
    add("global bound", `|u - R Psi| <= ${Number(e.eps).toExponential(3)} (1 + |x|^${e.kappa + 2})`);
    add("R, ramp width", `${e.train_radius}, ${e.ramp_width}`);
    add("local errors", `${Number(e.local_value_error).toExponential(3)} (value), ` +
        `${Number(e.local_gradient_error).toExponential(3)} (gradient): ${e.how_measured}`);
  }
  const kinds = ["solution", "loss"];
  if (model.errors) kinds.splice(1, 0, "error", "gradient_error");
  if (global) kinds.push("bound");
  fillSelect($("plot-kind"), kinds, "solution");
  const space = model.inputs.filter((n) => n !== "t");
  fillSelect($("plot-x"), model.inputs, space[0]);
  fillSelect($("plot-y"), ["none", ...model.inputs], space.length > 1 ? space[1] : "none");
  $("model").hidden = false;
  await drawPlot();
}

async function drawPlot() {
  if (!state.model) return;
  const params = new URLSearchParams({ kind: $("plot-kind").value });
  if (!["loss", "bound"].includes(params.get("kind"))) {
    params.set("x", $("plot-x").value);
    params.set("y", $("plot-y").value);
    const times = $("plot-times").value.trim();
    if (times) params.set("times", times);
  }
  $("plot-status").textContent = "drawing...";
  $("plot-status").className = "";
  try {
    await showImage($("model-plot"), `/v1/models/${state.model.id}/plot.png?${params}`);
    $("plot-status").textContent = "";
  } catch (err) {
    $("plot-status").textContent = err.message;
    $("plot-status").className = "error";
  }
}

// ------------------------------------------------------------------ wiring
$("key-form").addEventListener("submit", connect);
$("example").addEventListener("change", chooseExample);
$("steps").addEventListener("change", setSteps);
$("submit-job").addEventListener("click", submitJob);
$("draw").addEventListener("click", drawPlot);
$("plot-kind").addEventListener("change", drawPlot);
