// The console's only script. It keeps the executions table fresh and reloads an execution's page while it
// runs. Data from the server only ever reaches the page through textContent and attribute setters.
"use strict";

const POLL_MS = 1500;

function statusBadge(status) {
  const badge = document.createElement("span");
  badge.className = "status status-" + status.replace(/[^A-Z_]/g, "");
  badge.textContent = status;
  return badge;
}

// A value from the server, in its own <bdi> so that a direction control inside it reorders nothing around it.
function isolated(text) {
  const bdi = document.createElement("bdi");
  bdi.textContent = text == null ? "" : String(text);
  return bdi;
}

function cell(row, content) {
  const td = row.insertCell();
  td.appendChild(content instanceof Node ? content : isolated(content));
  return td;
}

function executionRow(root, execution) {
  const row = document.createElement("tr");
  cell(row, execution.stateMachine);
  const link = document.createElement("a");
  link.href = root + "/execution?arn=" + encodeURIComponent(execution.arn);
  link.appendChild(isolated(execution.name));
  cell(row, link);
  cell(row, statusBadge(execution.status));
  cell(row, execution.start);
  cell(row, execution.stop);
  cell(row, execution.durationMs == null ? "" : execution.durationMs + " ms");
  return row;
}

async function fetchJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
  if (!response.ok) {
    throw new Error("HTTP " + response.status);
  }
  return response.json();
}

function pollExecutions(body) {
  const tbody = document.querySelector("#executions tbody");
  const empty = document.getElementById("empty");
  const refreshed = document.getElementById("refreshed");
  const refresh = async () => {
    try {
      const data = await fetchJson(body.dataset.poll);
      tbody.replaceChildren(...data.executions.map((execution) => executionRow(body.dataset.root, execution)));
      empty.hidden = data.executions.length > 0;
      refreshed.textContent = "updated " + new Date().toLocaleTimeString();
    } catch (error) {
      refreshed.textContent = "local cloud not answering (" + error.message + "), retrying";
    }
  };
  setInterval(refresh, POLL_MS);
}

function pollExecution(body) {
  if (body.dataset.status !== "RUNNING") {
    return;
  }
  const timer = setInterval(async () => {
    try {
      const data = await fetchJson(body.dataset.poll);
      const changed = data.execution.status !== body.dataset.status || String(data.history.length) !== body.dataset.events;
      if (changed) {
        clearInterval(timer);
        window.location.reload();
      }
    } catch (error) {
      document.getElementById("status").textContent = body.dataset.status + " (not answering, retrying)";
    }
  }, POLL_MS);
}

function submitFilterOnChange() {
  const filter = document.getElementById("status-filter");
  if (filter) {
    filter.addEventListener("change", () => filter.form.submit());
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const body = document.body;
  submitFilterOnChange();
  if (body.dataset.page === "executions") {
    pollExecutions(body);
  } else if (body.dataset.page === "execution") {
    pollExecution(body);
  }
});
