// The sandbox's pages: read the controls, start and follow a run, show its numbers.
// Every value that came from data is put on the page with textContent, never as markup.
"use strict";

// A random token per tab (sessionStorage is per tab): the server keeps each tab's runs apart.
function sessionToken() {
  let token = sessionStorage.getItem("sandbox-session");
  if (!token || !/^[0-9a-f]{32}$/.test(token)) {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    token = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    sessionStorage.setItem("sandbox-session", token);
  }
  return token;
}

async function api(method, url, body, extraHeaders) {
  const headers = Object.assign({"X-Sandbox-Session": sessionToken()}, extraHeaders || {});
  const options = {method: method, headers: headers};
  if (body instanceof Blob) {
    options.body = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  let data = {};
  try { data = await response.json(); } catch (error) { data = {error: response.statusText}; }
  return {status: response.status, ok: response.ok, data: data};
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

function show(node, visible) {
  node.hidden = !visible;
}

// ---------------------------------------------------------------- the experiment page

function experimentPage() {
  const data = JSON.parse(document.getElementById("page-data").textContent);
  const form = document.getElementById("knobs");
  const runButton = document.getElementById("run-button");
  const cancelButton = document.getElementById("cancel-button");
  const status = document.getElementById("status");
  const steps = document.getElementById("steps");
  let currentJob = null;
  let previewShown = null;  // the job whose numbers are already on the page
  let ownRuns = [];

  function box(key) {
    return document.querySelector(`.control[data-key="${CSS.escape(key)}"]`);
  }

  // Slider and number box move together; the number box holds the value sent.
  form.querySelectorAll(".kind-range").forEach((control) => {
    const slider = control.querySelector("[data-role=slider]");
    const exact = control.querySelector("[data-role=value]");
    slider.addEventListener("input", () => { exact.value = slider.value; });
    exact.addEventListener("input", () => { slider.value = exact.value; });
  });

  function readValue(key) {
    const control = box(key);
    const kind = data.controls[key].kind;
    if (kind === "checkboxes") {
      return Array.from(control.querySelectorAll("input[type=checkbox]:checked"),
                        (input) => input.value);
    }
    const input = control.querySelector("[data-role=value]");
    return kind === "checkbox" ? input.checked : input.value;
  }

  function setValue(key, value) {
    const control = box(key);
    const kind = data.controls[key].kind;
    if (kind === "checkboxes") {
      const wanted = new Set(value);
      control.querySelectorAll("input[type=checkbox]").forEach((input) => {
        input.checked = wanted.has(input.value);
      });
      return;
    }
    const input = control.querySelector("[data-role=value]");
    if (kind === "checkbox") input.checked = Boolean(value);
    else input.value = String(value);
    const slider = control.querySelector("[data-role=slider]");
    if (slider) slider.value = String(value);
  }

  function collect() {
    const values = {};
    Object.keys(data.controls).forEach((key) => {
      if (data.controls[key].kind !== "fixed") values[key] = readValue(key);
    });
    return values;
  }

  function clearErrors() {
    document.querySelectorAll(".error").forEach((node) => { node.textContent = ""; show(node, false); });
    document.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  }

  function showErrors(errors) {
    Object.entries(errors).forEach(([key, message]) => {
      const info = data.controls[key];
      const target = info ? document.getElementById(info.id + "-error")
                          : document.getElementById("form-error");
      target.textContent = message;
      show(target, true);
      if (info) {
        const control = box(key);
        control.querySelectorAll("[data-role=value], [data-role=slider], [data-role=choices]")
          .forEach((node) => node.setAttribute("aria-invalid", "true"));
        const details = control.closest("details");
        if (details) details.open = true;
      }
    });
  }

  document.querySelectorAll(".switch-off").forEach((button) => {
    button.addEventListener("click", () => {
      const key = button.dataset.offFor;
      setValue(key, data.controls[key].off);
    });
  });

  document.getElementById("reset-button").addEventListener("click", () => {
    Object.entries(data.defaults).forEach(([key, value]) => {
      if (data.controls[key].kind !== "fixed") setValue(key, value);
    });
    clearErrors();
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    runButton.disabled = true;
    status.textContent = "Sending the settings…";
    const reply = await api("POST", `/api/experiments/${encodeURIComponent(data.name)}/runs`,
                            collect());
    if (!reply.ok) {
      runButton.disabled = false;
      showErrors(reply.data.errors || {"": reply.data.error || "the run was refused"});
      status.textContent = "Not run: see the message beside the control.";
      return;
    }
    currentJob = reply.data.id;
    cancelButton.disabled = false;
    clear(steps);
    follow(currentJob);
  });

  cancelButton.addEventListener("click", async () => {
    if (!currentJob) return;
    cancelButton.disabled = true;
    status.textContent = "Cancelling…";
    await api("POST", `/api/jobs/${encodeURIComponent(currentJob)}/cancel`);
  });

  async function follow(jobId) {
    const reply = await api("GET", `/api/jobs/${encodeURIComponent(jobId)}`);
    if (!reply.ok) {
      status.textContent = reply.data.error || "the run was lost";
      runButton.disabled = false;
      return;
    }
    const job = reply.data;
    clear(steps);
    job.messages.forEach((message) => steps.appendChild(element("li", message)));
    if (job.status === "queued" || job.status === "running") {
      if (job.preview) {
        // The numbers are computed and written; only the report is still being drawn.
        if (previewShown !== jobId) {
          renderResult(job.preview, job.id);
          previewShown = jobId;
        }
        status.textContent = `Numbers in ${job.preview.seconds} s; writing the report (${job.seconds} s)…`;
      } else {
        status.textContent = `${job.status === "queued" ? "Waiting" : "Running"} (${job.seconds} s): ${job.message}`;
      }
      setTimeout(() => follow(jobId), 400);
      return;
    }
    runButton.disabled = false;
    cancelButton.disabled = true;
    currentJob = null;
    if (job.status === "done") {
      status.textContent = "Reading the results…";
      await showResult(job.id);
      await refreshRuns(true);
      // Said last: the numbers and the list of runs are on the page by now.
      status.textContent = `Done in ${job.seconds} s.`;
    } else if (job.status === "cancelled") {
      status.textContent = "Cancelled; nothing was written.";
    } else {
      status.textContent = `The run failed: ${job.error}`;
    }
  }

  async function showResult(runId) {
    const reply = await api("GET", `/api/runs/${encodeURIComponent(runId)}`);
    if (!reply.ok) {
      status.textContent = reply.data.error || "the result could not be read";
      return;
    }
    renderResult(reply.data, runId);
  }

  function renderResult(result, runId) {
    document.getElementById("result-meta").textContent =
      `Run ${result.run_id}: seed ${result.seed}, ${Number(result.size).toLocaleString("en")} people.`;
    const headlines = document.getElementById("headlines");
    clear(headlines);
    result.headlines.forEach((line) => headlines.appendChild(element("li", line)));
    const rows = document.getElementById("focus-rows");
    clear(rows);
    result.focus.forEach((row) => {
      const tr = element("tr");
      [row.label, row.metric, row.view, row.group_rate, row.reference_rate, row.difference,
       row.ratio].forEach((text) => tr.appendChild(element("td", text)));
      rows.appendChild(tr);
    });
    drawWaterfalls(result.attribution);
    const report = document.getElementById("report-link");
    report.href = `/runs/${encodeURIComponent(runId)}/report.html`;
    show(report, result.has_report);
    const download = document.getElementById("download-link");
    download.href = `/runs/${encodeURIComponent(runId)}/download`;
    // A preview's folder is not published yet: nothing to download until the run is done.
    show(download, !result.preview);
    show(document.getElementById("result"), true);
  }

  function drawWaterfalls(charts) {
    const holder = document.getElementById("waterfalls");
    clear(holder);
    if (!charts.length) {
      holder.appendChild(element("p", "Run with attribution to split the gap between the knobs.",
                                 "help"));
      return;
    }
    charts.forEach((chart) => {
      const figure = element("figure", null, "waterfall");
      figure.appendChild(element("figcaption", `${chart.label || chart.group} — ${chart.metric}`));
      const ends = chart.steps.flatMap((s) => [s.start, s.end]).concat([0]);
      const low = Math.min(...ends);
      const high = Math.max(...ends);
      const span = high - low || 1;
      const table = element("table", null, "waterfall-table");
      const body = element("tbody");
      chart.steps.forEach((step) => {
        const tr = element("tr", null, `step kind-${step.kind}`);
        tr.dataset.source = step.source;
        tr.appendChild(element("th", step.source)).setAttribute("scope", "row");
        const cell = element("td", null, "bar-cell");
        const bar = element("div", null, step.value >= 0 ? "bar up" : "bar down");
        const left = Math.min(step.start, step.end);
        bar.style.left = `${(100 * (left - low)) / span}%`;
        bar.style.width = `${Math.max((100 * Math.abs(step.end - step.start)) / span, 0.5)}%`;
        cell.appendChild(bar);
        const zero = element("div", null, "zero");
        zero.style.left = `${(100 * (0 - low)) / span}%`;
        cell.appendChild(zero);
        tr.appendChild(cell);
        tr.appendChild(element("td", step.text, "value"));
        body.appendChild(tr);
      });
      table.appendChild(body);
      figure.appendChild(table);
      holder.appendChild(figure);
    });
  }

  // ------------------------------------------------------------ side by side

  const choiceA = document.getElementById("compare-a");
  const choiceB = document.getElementById("compare-b");

  async function refreshRuns(pickLatest) {
    const reply = await api("GET", `/api/experiments/${encodeURIComponent(data.name)}/runs`);
    if (!reply.ok) return;
    ownRuns = reply.data.own.filter((job) => job.status === "done");
    const options = [];
    ownRuns.forEach((job, i) => {
      const changed = Object.keys(job.overrides).filter((k) => k !== "population.size");
      options.push([job.id, `this tab, run ${i + 1}: seed ${job.seed}, ${job.size.toLocaleString("en")} people` +
                    (changed.length ? `; changed ${changed.join(", ")}` : "; the file's settings")]);
    });
    reply.data.existing.forEach((run) => {
      options.push([run.id, `earlier run ${run.run_id}: seed ${run.seed}, ${Number(run.size).toLocaleString("en")} people`]);
    });
    [choiceA, choiceB].forEach((select) => {
      const kept = select.value;
      clear(select);
      options.forEach(([value, text]) => {
        const option = element("option", text);
        option.value = value;
        select.appendChild(option);
      });
      if (kept) select.value = kept;
    });
    if (pickLatest && ownRuns.length >= 2) {
      choiceA.value = ownRuns[ownRuns.length - 2].id;
      choiceB.value = ownRuns[ownRuns.length - 1].id;
    }
  }

  document.getElementById("compare-button").addEventListener("click", async () => {
    const message = document.getElementById("compare-status");
    const output = document.getElementById("compare-output");
    if (!choiceA.value || !choiceB.value) {
      message.textContent = "Choose two runs.";
      return;
    }
    message.textContent = "Comparing…";
    const reply = await api("POST", "/api/compare", {a: choiceA.value, b: choiceB.value});
    if (!reply.ok) {
      message.textContent = reply.data.error || "the runs could not be compared";
      show(output, false);
      return;
    }
    const result = reply.data;
    message.textContent = `Run A ${result.run_a} against run B ${result.run_b}.`;
    document.getElementById("compare-people").textContent =
      (result.shared_people ? "Same people (same seed and profile). " : "Different people. ") +
      result.method + (result.notes.length ? " " + result.notes.join(" ") : "");
    const rows = document.getElementById("compare-rows");
    clear(rows);
    result.rows.forEach((row) => {
      const tr = element("tr");
      [row.label, row.metric, row.view, row.gap_a, row.gap_b, row.change, row.verdict]
        .forEach((text) => tr.appendChild(element("td", text)));
      rows.appendChild(tr);
    });
    const differences = document.getElementById("compare-differences");
    clear(differences);
    if (!result.differences.length) differences.appendChild(element("li", "none"));
    result.differences.forEach(([key, a, b]) => {
      differences.appendChild(element("li", `${key}: ${a} in A, ${b} in B`));
    });
    show(output, true);
  });

  refreshRuns(true);
}

// ---------------------------------------------------------------- your own file

function auditPage() {
  const uploadForm = document.getElementById("upload-form");
  const columnsForm = document.getElementById("columns-form");
  const uploadError = document.getElementById("upload-error");
  const auditError = document.getElementById("audit-error");
  const status = document.getElementById("audit-status");
  let uploadId = null;

  function fail(node, message) {
    node.textContent = message;
    show(node, true);
    status.textContent = "";
  }

  uploadForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    show(uploadError, false);
    const file = document.getElementById("upload-file").files[0];
    if (!file) {
      fail(uploadError, "Choose a file first.");
      return;
    }
    status.textContent = "Uploading…";
    const reply = await api("POST", "/api/uploads", file, {"X-File-Name": encodeURIComponent(file.name)});
    if (!reply.ok) {
      fail(uploadError, reply.data.error || "the file was refused");
      return;
    }
    uploadId = reply.data.id;
    const groups = document.getElementById("group-columns");
    groups.querySelectorAll(".choice").forEach((node) => node.remove());
    reply.data.columns.forEach((name, i) => {
      const holder = element("span", null, "choice");
      const input = element("input");
      input.type = "checkbox";
      input.id = `group-column-${i}`;
      input.value = name;
      const label = element("label", name);
      label.htmlFor = input.id;
      holder.appendChild(input);
      holder.appendChild(label);
      groups.appendChild(holder);
    });
    ["y-true", "y-pred", "score"].forEach((id) => {
      const select = document.getElementById(id);
      clear(select);
      if (id === "score") {
        const none = element("option", "(none)");
        none.value = "";
        select.appendChild(none);
      }
      reply.data.columns.forEach((name) => {
        const option = element("option", name);
        option.value = name;
        select.appendChild(option);
      });
    });
    show(columnsForm, true);
    status.textContent = `Uploaded: ${reply.data.columns.length} columns. Choose them below.`;
  });

  columnsForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    show(auditError, false);
    const groups = Array.from(columnsForm.querySelectorAll("#group-columns input:checked"),
                              (input) => input.value);
    status.textContent = "Auditing…";
    const reply = await api("POST", `/api/uploads/${encodeURIComponent(uploadId)}/audit`, {
      groups: groups,
      y_true: document.getElementById("y-true").value,
      y_pred: document.getElementById("y-pred").value,
      score: document.getElementById("score").value || null,
    });
    if (!reply.ok) {
      fail(auditError, reply.data.error || "the audit failed");
      return;
    }
    status.textContent = "Audited. The uploaded file has been removed.";
    const result = reply.data;
    document.getElementById("audit-meta").textContent =
      `${Number(result.rows).toLocaleString("en")} rows audited` +
      (result.dropped ? `, ${result.dropped} dropped for missing values` : "") + ".";
    const tables = document.getElementById("audit-tables");
    clear(tables);
    result.groupings.forEach((grouping) => {
      tables.appendChild(element("h3", `By ${grouping.grouping}`));
      tables.appendChild(element("p", `Reference group: ${grouping.reference}`));
      const table = element("table", null, "audit-table");
      const head = element("thead");
      const headRow = element("tr");
      ["group", "people"].concat(result.metrics.map((m) => `${m} (95% CI)`)).forEach((title) => {
        const th = element("th", title);
        th.setAttribute("scope", "col");
        headRow.appendChild(th);
      });
      head.appendChild(headRow);
      table.appendChild(head);
      const body = element("tbody");
      grouping.groups.forEach((group) => {
        const tr = element("tr");
        const th = element("th", group.group, "group-name");
        th.setAttribute("scope", "row");
        tr.appendChild(th);
        tr.appendChild(element("td", group.n));
        group.rates.forEach((rate) => tr.appendChild(element("td", rate)));
        body.appendChild(tr);
      });
      table.appendChild(body);
      tables.appendChild(table);
    });
    document.getElementById("audit-report").textContent = result.report;
    document.getElementById("audit-download").href =
      `/api/uploads/${encodeURIComponent(uploadId)}/download`;
    show(document.getElementById("audit-result"), true);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "experiment") experimentPage();
  if (page === "audit") auditPage();
});
