// relupde dashboard: plain JavaScript over the REST API (docs/service.md, "Dashboard").
// The API key lives in `state.key` only (this page's memory); every request sends it as
// `Authorization: Bearer <key>`.  Live progress comes from GET /v1/jobs/{id}/events, read
// with fetch (EventSource cannot send headers).  Text from the server is set with
// textContent, never parsed as HTML.
"use strict";

const TERMINAL = new Set(["succeeded", "failed", "canceled"]);
const REFRESH_MS = 10000;  // the first page of jobs is re-read this often (jobs submitted elsewhere)
const DEFAULT_PAGE_SIZE = 50;
// Event streams stay open while a job is unfinished, and the browser opens at most 6
// connections to one server: the streams get at most 3 of them; jobs beyond that are
// updated by the periodic re-read, and followed once a stream is free.
const MAX_STREAMS = 3;
const EVALUATE_OUTPUTS = ["value", "gradient", "bound", "gradient_bound", "inside"];

function pageSizeOf(search) {
  // `?page_size=N` (1..200) sets how many jobs one page (and "Load more") reads
  const n = Number(new URLSearchParams(search).get("page_size"));
  return Number.isInteger(n) && n >= 1 && n <= 200 ? n : DEFAULT_PAGE_SIZE;
}
const PAGE_SIZE = pageSizeOf(window.location.search);

const state = {
  key: "",
  generation: 0,        // bumped on every connect: answers for an older key are dropped
  connected: false,
  connecting: false,
  error: "",            // why the last connect failed
  jobs: new Map(),      // id -> job JSON
  gone: new Set(),      // ids deleted from this page (late stream events must not bring them back)
  streams: new Map(),   // id -> AbortController of its event stream
  nextPageToken: null,  // of the last page read; null when every job is listed
  pagesLoaded: 0,
  selected: null,       // job id
  model: null,          // the selected job's model JSON
  modelLoading: null,   // id of the model being read
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

// fetch with the key; a failure throws an Error carrying the server's envelope
// (err.status, err.code, err.details) and "code: message" as its message
async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers || {}) });
  if (!response.ok) {
    const err = new Error(`${response.status} ${response.statusText}`);
    err.status = response.status;
    try {
      const body = await response.json();
      if (body && body.error) {
        err.message = `${body.error.code}: ${body.error.message}`;
        err.code = body.error.code;
        err.details = body.error.details;
      }
    } catch (_) { /* not JSON */ }
    throw err;
  }
  return response;
}

function postJson(path, value) {
  return api(path, {
    method: "POST",
    body: JSON.stringify(value),
    headers: { "Content-Type": "application/json" },
  });
}

function say(element, text, isError = false) {
  element.textContent = text;
  element.className = isError ? "error" : "";
}

function button(label, action, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.dataset.action = action;
  b.addEventListener("click", (event) => {
    event.stopPropagation();  // a button in a row does not select the row
    onClick(b);
  });
  return b;
}

function fmt(value, digits = 6) {
  return value === null || value === undefined ? "" : Number(value).toPrecision(digits);
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
  const generation = ++state.generation;
  state.connected = false;
  state.connecting = true;
  state.error = "";
  say($("connection"), "connecting...");
  $("connection").title = "";
  renderJobsFooter();
  try {
    await refreshJobs();
    if (generation !== state.generation) return;
    state.connected = true;
    await loadExamples();
    if (generation !== state.generation) return;
    if (state.refresher === null) {
      state.refresher = setInterval(() => {
        if (state.connected) refreshJobs().catch((err) => say($("jobs-status"), `refresh: ${err.message}`, true));
      }, REFRESH_MS);
    }
    say($("connection"), "connected");
  } catch (err) {
    if (generation !== state.generation) return;
    state.connected = false;
    state.error = err.message;
    say($("connection"), `not connected: ${err.message}`, true);
    $("connection").title = err.message;
  } finally {
    if (generation === state.generation) {
      state.connecting = false;
      renderJobsFooter();
    }
  }
}

function forgetJobs() {
  for (const controller of state.streams.values()) controller.abort();
  state.streams.clear();
  state.jobs.clear();
  state.gone.clear();
  state.nextPageToken = null;
  state.pagesLoaded = 0;
  state.selected = null;
  state.model = null;
  state.modelLoading = null;
  $("job-rows").replaceChildren();
  say($("jobs-status"), "");
  $("detail").hidden = true;
}

// ------------------------------------------------------------------ examples, validate, submit
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
  // the spec's own steps stay; the field only overrides them when filled in
  const steps = example.spec.training && example.spec.training.steps;
  $("steps").value = "";
  $("steps").placeholder = steps ? `${steps} (the spec's)` : "the spec's";
  clearSpecReport();
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
    clearSpecReport();
  } catch (_) { /* the user is editing the JSON; validate and submit will report it */ }
}

function clearSpecReport() {
  say($("submit-status"), "");
  $("spec-errors").replaceChildren();
}

function showProblems(problems) {
  const list = $("spec-errors");
  list.replaceChildren();
  for (const problem of problems) {
    const item = document.createElement("li");
    item.textContent = problem.field ? `${problem.field}: ${problem.message}` : problem.message;
    list.appendChild(item);
  }
}

// The spec in the text area, or undefined (the JSON error is shown).
function readSpec() {
  try {
    return JSON.parse($("spec").value);
  } catch (err) {
    say($("submit-status"), "the spec is not valid JSON", true);
    showProblems([{ field: "", message: err.message }]);
    return undefined;
  }
}

// POST /v1/specs/validate: {valid: true, steps} or {valid: false, problems: [{field, message}]}.
async function checkSpec(spec) {
  try {
    const body = await (await postJson("/v1/specs/validate", spec)).json();
    return { valid: true, steps: body.steps };
  } catch (err) {
    if (err.status !== 422) throw err;
    const details = Array.isArray(err.details) ? err.details : [];
    const problems = details.map((d) => ({
      field: String(d.field || "").replace(/^body(\.|$)/, ""),
      message: String(d.message || ""),
    }));
    return { valid: false, problems: problems.length ? problems : [{ field: "", message: err.message }] };
  }
}

function reportInvalid(problems, submitting) {
  const n = problems.length;
  const what = `${n} problem${n === 1 ? "" : "s"}`;
  say($("submit-status"), submitting ? `not submitted: the spec has ${what}` : `invalid: ${what}`, true);
  showProblems(problems);
}

async function validateSpec() {
  clearSpecReport();
  const spec = readSpec();
  if (spec === undefined) return;
  say($("submit-status"), "validating...");
  try {
    const result = await checkSpec(spec);
    if (result.valid) say($("submit-status"), `valid: ${result.steps} steps`);
    else reportInvalid(result.problems, false);
  } catch (err) {
    say($("submit-status"), err.message, true);
  }
}

async function submitJob() {
  clearSpecReport();
  const spec = readSpec();
  if (spec === undefined) return;
  const submit = $("submit-job");
  submit.disabled = true;
  say($("submit-status"), "validating...");
  try {
    const result = await checkSpec(spec);
    if (!result.valid) {
      reportInvalid(result.problems, true);
      return;
    }
    const job = await (await postJson("/v1/jobs", spec)).json();
    say($("submit-status"), `submitted job ${job.id} (${result.steps} steps)`);
    upsertJob(job);
    select(job.id);
  } catch (err) {
    say($("submit-status"), err.message, true);
  } finally {
    submit.disabled = false;
  }
}

// ------------------------------------------------------------------ jobs
async function refreshJobs() {
  // the first page: new jobs and progress of jobs no stream follows
  const generation = state.generation;
  const body = await (await api(`/v1/jobs?page_size=${PAGE_SIZE}`)).json();
  if (generation !== state.generation) return;
  dropMissing(body);
  for (const job of body.jobs) upsertJob(job);
  if (state.pagesLoaded <= 1) {
    state.nextPageToken = body.next_page_token;
    state.pagesLoaded = 1;
  }
  renderJobsFooter();
}

async function loadMore() {
  if (!state.nextPageToken) return;
  const generation = state.generation;
  const more = $("load-more");
  more.disabled = true;
  try {
    const token = encodeURIComponent(state.nextPageToken);
    const body = await (await api(`/v1/jobs?page_size=${PAGE_SIZE}&page_token=${token}`)).json();
    if (generation !== state.generation) return;
    dropMissing(body);
    for (const job of body.jobs) upsertJob(job);
    state.nextPageToken = body.next_page_token;
    state.pagesLoaded += 1;
  } catch (err) {
    say($("jobs-status"), `load more: ${err.message}`, true);
  } finally {
    more.disabled = false;
    renderJobsFooter();
  }
}

// A page lists every job between its newest and its last one (its oldest when it is the
// last page): a listed job in that range that the page lacks was deleted elsewhere.
function dropMissing(body) {
  if (!body.jobs.length) return;
  const listed = new Set(body.jobs.map((j) => j.id));
  const newest = body.jobs[0];
  const oldest = body.jobs[body.jobs.length - 1];
  for (const job of [...state.jobs.values()]) {
    if (listed.has(job.id) || newerFirst(job, newest) < 0) continue;
    if (body.next_page_token && newerFirst(job, oldest) > 0) continue;
    forgetJob(job.id);
  }
}

function upsertJob(job) {
  if (state.gone.has(job.id)) return;
  state.jobs.set(job.id, job);
  renderRow(job);
  renderOrder();
  renderJobsFooter();
  followMore();
  if (job.id === state.selected) renderDetail(job);
}

function forgetJob(jobId) {
  state.gone.add(jobId);
  const controller = state.streams.get(jobId);
  if (controller) controller.abort();
  state.streams.delete(jobId);
  state.jobs.delete(jobId);
  const row = rowOf(jobId);
  if (row) row.remove();
  if (state.selected === jobId) {
    state.selected = null;
    state.model = null;
    $("detail").hidden = true;
  }
  renderJobsFooter();
  followMore();
}

// created_at as [whole seconds in ms, microseconds]: exact, whatever the digits of the fraction
function createdKey(iso) {
  const m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$/.exec(String(iso || ""));
  const seconds = Date.parse(m[1] + (m[3] || "Z"));
  const micro = parseInt(`${m[2] || ""}000000`.slice(0, 6), 10);
  return [Number.isNaN(seconds) ? 0 : seconds, micro];
}

// the server's order: created_at descending, then id descending
function newerFirst(a, b) {
  const [ka, kb] = [createdKey(a.created_at), createdKey(b.created_at)];
  if (ka[0] !== kb[0]) return kb[0] - ka[0];
  if (ka[1] !== kb[1]) return kb[1] - ka[1];
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function rowOf(jobId) {
  for (const row of $("job-rows").rows) if (row.dataset.jobId === jobId) return row;
  return null;
}

function renderOrder() {
  const body = $("job-rows");
  [...state.jobs.values()].sort(newerFirst).forEach((job, index) => {
    const row = rowOf(job.id);
    if (row && body.rows[index] !== row) body.insertBefore(row, body.rows[index] || null);
  });
}

function renderJobsFooter() {
  const empty = $("jobs-empty");
  empty.hidden = state.jobs.size > 0;
  if (state.connecting) say(empty, "Connecting...");
  else if (state.connected) say(empty, "No jobs yet.");
  else if (state.error) say(empty, `Not connected: ${state.error}`, true);
  else say(empty, "Not connected.");
  $("load-more").hidden = !(state.connected && state.nextPageToken);
}

function renderRow(job) {
  let row = rowOf(job.id);
  if (!row) {
    row = document.createElement("tr");
    row.dataset.jobId = job.id;
    for (let i = 0; i < 6; i++) row.appendChild(document.createElement("td"));
    row.cells[0].className = "name";
    row.cells[5].className = "actions";
    row.addEventListener("click", () => select(job.id));
    if (job.id === state.selected) row.classList.add("selected");
    $("job-rows").appendChild(row);
  }
  row.dataset.status = job.status;
  const [name, status, progress, objective, created, actions] = row.cells;
  name.textContent = job.name || job.id.slice(0, 8);
  name.title = job.id;
  status.textContent = job.cancel_requested && job.status === "running" ? "running (canceling)" : job.status;
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
  // The largest sample sup of |r| over the residual terms (the latest loss-curve record):
  // a figure that means the same at every step, unlike the training objective.
  const sups = p.residuals ? Object.values(p.residuals.sup) : [];
  objective.textContent = sups.length ? Math.max(...sups).toExponential(3) : "";
  objective.title = p.residuals
    ? `step ${p.residuals.step}: mean |r| ${Math.max(...Object.values(p.residuals.mean)).toExponential(3)}` +
      (p.residuals.objective == null ? "" : `, objective ${Number(p.residuals.objective).toExponential(3)}`)
    : "";
  const when = new Date(job.created_at);
  created.textContent = when.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
  created.title = job.created_at;
  renderActions(actions, job);
}

function renderActions(cell, job) {
  // rebuilt only when what can be done changes (progress events must not swap a button being clicked)
  const signature = `${job.status}|${job.model_id || ""}|${job.cancel_requested ? 1 : 0}`;
  if (cell.dataset.confirming === "1" || cell.dataset.signature === signature) return;
  cell.dataset.signature = signature;
  cell.replaceChildren();
  if (!TERMINAL.has(job.status)) {
    const cancel = button(job.cancel_requested ? "Canceling..." : "Cancel", "cancel", () => cancelJob(job.id));
    cancel.disabled = Boolean(job.cancel_requested);
    cell.appendChild(cancel);
  }
  if (job.status === "succeeded" && job.model_id) {
    cell.appendChild(button("Download model", "download", (b) => downloadModel(job.model_id, b)));
  }
  cell.appendChild(button("Delete", "delete", () => askDelete(cell, job.id)));
}

function askDelete(cell, jobId) {
  cell.dataset.confirming = "1";
  const question = document.createElement("span");
  question.textContent = "Delete the job and its model? ";
  const keep = () => {
    delete cell.dataset.confirming;
    delete cell.dataset.signature;
    const job = state.jobs.get(jobId);
    if (job) renderActions(cell, job);
  };
  const yes = button("Yes, delete", "confirm-delete", async (b) => {
    b.disabled = true;
    if (!(await deleteJob(jobId))) keep();
  });
  cell.replaceChildren(question, yes, button("No", "keep", keep));
}

async function deleteJob(jobId) {
  const job = state.jobs.get(jobId);
  const name = (job && job.name) || jobId;
  try {
    const body = await (await api(`/v1/jobs/${encodeURIComponent(jobId)}`, { method: "DELETE" })).json();
    forgetJob(jobId);
    const models = body.model_ids.length ? ` and model ${body.model_ids.join(", ")}` : "";
    say($("jobs-status"), `deleted job ${name}${models}`);
    return true;
  } catch (err) {
    if (err.status === 404) {  // already gone
      forgetJob(jobId);
      say($("jobs-status"), `job ${name} was already deleted`);
      return true;
    }
    say($("jobs-status"), `delete ${name}: ${err.message}`, true);
    return false;
  }
}

async function cancelJob(jobId) {
  try {
    upsertJob(await (await api(`/v1/jobs/${encodeURIComponent(jobId)}/cancel`, { method: "POST" })).json());
  } catch (err) {
    say($("jobs-status"), `cancel: ${err.message}`, true);
  }
}

async function downloadModel(modelId, b) {
  const file = `relupde-${String(modelId).replace(/[^A-Za-z0-9_-]/g, "_")}.safetensors`;
  b.disabled = true;
  say($("jobs-status"), `downloading ${file}...`);
  try {
    const blob = await (await api(`/v1/models/${encodeURIComponent(modelId)}/artifact`)).blob();
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = file;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);  // after the browser has read it
    say($("jobs-status"), `downloaded ${file} (${blob.size} bytes)`);
  } catch (err) {
    say($("jobs-status"), `download: ${err.message}`, true);
  } finally {
    b.disabled = false;
  }
}

function followMore() {
  const waiting = [...state.jobs.values()]
    .filter((job) => !TERMINAL.has(job.status) && !state.streams.has(job.id))
    .sort(newerFirst);
  for (const job of waiting) {
    if (state.streams.size >= MAX_STREAMS) break;
    follow(job.id);
  }
}

async function follow(jobId) {
  const controller = new AbortController();
  state.streams.set(jobId, controller);
  let ended = false;
  try {
    const response = await api(`/v1/jobs/${encodeURIComponent(jobId)}/events`, { signal: controller.signal });
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
        if (data && !controller.signal.aborted) upsertJob(JSON.parse(data));
      }
    }
    ended = true;
  } catch (err) {
    if (err.name !== "AbortError") say($("jobs-status"), `event stream: ${err.message}`, true);
  } finally {
    if (state.streams.get(jobId) === controller) state.streams.delete(jobId);
  }
  if (ended) followMore();  // a free stream for the next unfinished job
}

// ------------------------------------------------------------------ one job
function select(jobId) {
  state.selected = jobId;
  state.model = null;
  state.modelLoading = null;
  for (const row of $("job-rows").rows) {
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
    showImage($("loss-plot"), `/v1/jobs/${encodeURIComponent(job.id)}/loss.png`).catch((err) => {
      if (state.selected === job.id) $("detail-status").textContent += ` (loss plot: ${err.message})`;
    });
  }
  const wanted = job.status === "succeeded" && job.model_id;
  if (wanted && (!state.model || state.model.id !== job.model_id) && state.modelLoading !== job.model_id) {
    loadModel(job.id, job.model_id).catch((err) => {
      if (state.selected === job.id) $("detail-status").textContent += ` (model: ${err.message})`;
    });
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

async function loadModel(jobId, modelId) {
  state.modelLoading = modelId;
  let model;
  try {
    model = await (await api(`/v1/models/${encodeURIComponent(modelId)}`)).json();
  } finally {
    if (state.modelLoading === modelId) state.modelLoading = null;
  }
  if (state.selected !== jobId) return;  // another job was chosen meanwhile
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
  // promises (certified, statistical) with "<="; indicators as estimates, never as bounds
  for (const b of bounds) {
    const symbol = symbols[b.quantity] || b.quantity;
    if (b.value === null) {
      add(`${symbol}: no bound`, `${b.kind}: ${b.how}`);
    } else if (b.kind === "indicator") {
      add(`${symbol} ~`, `${Number(b.value).toExponential(2)} (indicator: an estimate, not a bound): ${b.how}`);
    } else {
      const trust = b.kind === "statistical" ? `statistical, ${100 * b.confidence}%` : b.kind;
      add(`${symbol} <=`, `${Number(b.value).toExponential(2)} (${trust}): ${b.how}`);
    }
  }
  const global = model.estimate && model.estimate.eps_value !== undefined;
  if (global) {
    const e = model.estimate;
    add("global bound", `|u - R Psi| <= ${Number(e.eps).toExponential(3)} (1 + |x|^${e.kappa + 2})`);
    add("R, ramp width", `${e.train_radius}, ${e.ramp_width}`);
    add("local errors", `${Number(e.local_value_error).toExponential(3)} (value), ` +
        `${Number(e.local_gradient_error).toExponential(3)} (gradient): ${e.how_measured}`);
  }
  // the probe: one point, its coordinates in the model's input order
  $("probe-point").value = "";
  $("probe-point").placeholder = model.inputs.join(", ");
  $("probe-result").hidden = true;
  say($("probe-status"), "");
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

async function probe(event) {
  event.preventDefault();
  const model = state.model;
  if (!model) return;
  const status = $("probe-status");
  const result = $("probe-result");
  const raw = $("probe-point").value.trim();
  const parts = raw.split(",").map((part) => part.trim());
  const point = parts.map(Number);
  if (!raw || parts.length !== model.inputs.length || parts.includes("") || !point.every(Number.isFinite)) {
    result.hidden = true;
    const n = model.inputs.length;
    say(status, `enter ${n} number${n === 1 ? "" : "s"} separated by commas: ${model.inputs.join(", ")}`, true);
    return;
  }
  say(status, "evaluating...");
  let body;
  try {
    const path = `/v1/models/${encodeURIComponent(model.id)}/evaluate`;
    body = await (await postJson(path, { points: [point], outputs: EVALUATE_OUTPUTS })).json();
  } catch (err) {
    if (state.model === model) {
      result.hidden = true;
      say(status, err.message, true);
    }
    return;
  }
  if (state.model !== model) return;  // another model was chosen meanwhile
  const rows = result.tBodies[0];
  rows.replaceChildren();
  const add = (name, value, key) => {
    const row = rows.insertRow();
    row.dataset.output = key;
    row.insertCell().textContent = name;
    row.insertCell().textContent = value;
  };
  const bound = (values, what) => {
    if (values === null || values === undefined) return "none (the model has no pointwise bound)";
    return values[0] === null ? "none at this point" : `${what} <= ${fmt(values[0], 3)}`;
  };
  add("point", model.inputs.map((name, i) => `${name} = ${point[i]}`).join(", "), "point");
  add("u", fmt(body.value[0]), "value");
  model.inputs.forEach((name, i) => add(`\u2202u/\u2202${name}`, fmt(body.gradient[0][i]), `gradient-${name}`));
  add("bound", bound(body.bound, "|u - u*|"), "bound");
  add("gradient bound", bound(body.gradient_bound, "|grad u - grad u*|"), "gradient_bound");
  const inside = body.inside[0];
  add("domain", inside ? "inside" : "outside the domain", "inside");
  result.hidden = false;
  say(status, inside ? "" : "the point is outside the domain: u is the network's value, not a solution there", !inside);
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
    await showImage($("model-plot"), `/v1/models/${encodeURIComponent(state.model.id)}/plot.png?${params}`);
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
$("spec").addEventListener("input", clearSpecReport);
$("validate-spec").addEventListener("click", validateSpec);
$("submit-job").addEventListener("click", submitJob);
$("load-more").addEventListener("click", loadMore);
$("probe-form").addEventListener("submit", probe);
$("draw").addEventListener("click", drawPlot);
$("plot-kind").addEventListener("change", drawPlot);
renderJobsFooter();
