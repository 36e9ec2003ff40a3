// Polled in the page (Page.wait_for_function, with `spec` as its argument). `since` is
// "navigation" (0) or "input" (the last click / key press). Done when the run that answers the
// first user rerun request after `since` has finished (its script_finished arrived and the
// page has rendered it: script state notRunning, nothing stale, no status widget) and the
// wanted conditions hold. Records the first moment each wanted condition held so, and returns
// those marks (ms since `since`) with the run's start and end; false until then.
(spec) => {
  const b = window.__bench;
  if (!b) return false;
  const since = spec.since === "input" ? b.lastInput : 0;
  if (since === null) return false;
  const now = performance.now();
  if (document.querySelector('[data-testid="stException"]')) return { app_error: "exception" };
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute("data-test-connection-state") !== "CONNECTED") return false;
  if (app.getAttribute("data-test-script-state") !== "notRunning") return false;
  if (document.querySelector('[data-stale="true"], [data-testid="stStatusWidget"]')) {
    return false;
  }
  // The run that answers the action: the first rerun request the page sent after it that
  // is not a timer's (is_auto_rerun), then the first run that starts after that request and
  // finishes, fully (0) or as a fragment (3); a run stopped early for a rerun (2) hands over
  // to the run after it.
  const request = b.requests.find(([t, , auto]) => t >= since && !auto);
  if (!request) return false;
  let start = null, finish = null;
  for (const entry of b.socket) {
    if (entry[0] < request[0]) continue;
    if (entry[1] === "start" && start === null) start = entry;
    else if (entry[1] === "finish" && start !== null) {
      if (entry[2] === 0 || entry[2] === 3) { finish = entry; break; }
      start = null;
    }
  }
  if (!finish) return false;
  let rendered = -1;
  for (const [t, s] of b.runs) if (t >= since && s === "running") rendered = t;
  if (rendered >= 0 && !b.runs.some(([t, s]) => t > rendered && s === "notRunning")) {
    return false;
  }
  if (spec.failOnAlert) {
    const alert = document.querySelector('[data-testid="stAlertContentError"]');
    if (alert) return { app_error: alert.textContent.slice(0, 200) };
  }

  const grid = b.lastShownGrid();
  const cell = (col, row) => {
    const el = grid && grid.querySelector(`[id="glide-cell-${col}-${row}"]`);
    return el ? el.textContent : null;
  };
  const main = document.querySelector('[data-testid="stMain"]');
  const text = main ? main.textContent : "";
  const drawn = (chart) => chart.querySelector(
    "svg.marks g[class*='mark-'] path, canvas.marks"
  ) !== null;
  const checks = {
    grid: () => !!grid && !!grid.querySelector('[data-testid="data-grid-canvas"]')
      && !!cell(0, 0),
    charts: () => {
      const charts = document.querySelectorAll('[data-testid="stVegaLiteChart"]');
      return charts.length >= 2 && [...charts].every(drawn);
    },
    text: () => spec.text.every((pattern) => new RegExp(pattern).test(text)),
    cell: () => spec.cell.every(([col, row, pattern]) =>
      new RegExp(pattern, "i").test(cell(col, row) || "")),
  };
  // A grid check is dated to when the canvas first showed what it shows now (see paints),
  // but not before the page rendered the run's end; the accessible table's own time is kept
  // as `<want>_table`.
  const idle = b.runs.filter(([, s]) => s === "notRunning").pop();
  const painted = b.paints.length ? b.paints[b.paints.length - 1][0] : now;
  const shown = { grid: true, cell: true };
  const key = `${spec.name}@${since}`;
  const marks = (b.marks[key] = b.marks[key] || {});
  let all = true;
  for (const want of spec.want) {
    if (marks[want] === undefined && checks[want]()) {
      marks[want] = now - since;
      if (shown[want]) {
        marks[`${want}_table`] = marks[want];
        marks[want] = Math.min(now, Math.max(painted, idle ? idle[0] : since)) - since;
      }
    }
    if (marks[want] === undefined) all = false;
  }
  if (!all) return false;
  return { ...marks, run_start: start[0] - since, run_end: finish[0] - since };
}
