// Polled in the page (Page.wait_for_function, with `spec` as its argument) by
// bench/load/agents.py's Chromium agents: when did the action's result appear, as a person
// looks for it? Unlike done.js it does not wait for the app to be idle: the load generator's
// protocol agents stop at the script run that drew the result too (a run the server stops
// for another after drawing counts). `since` is "navigation" (0) or "input" (the last click
// or key press, from init.js). It needs a script run begun after the action's first rerun
// request, and ended (any status); then the result: every `text` pattern in the main area,
// and with `grid` the ticket grid showing a first ID other than `gridNot` (dated, as in
// done.js, to when its canvas last changed: glide fills its accessible table 200 ms later).
// An exception, or with failOnAlert an error alert, ends it. Returns ms since `since`:
// {shown, finishes: [every script_finished since the run began]}, or false until then.
(spec) => {
  const b = window.__bench;
  if (!b) return false;
  const since = spec.since === "input" ? b.lastInput : 0;
  if (since === null) return false;
  const now = performance.now();
  if (document.querySelector('[data-testid="stException"]')) return { app_error: "exception" };
  if (spec.failOnAlert) {
    const alert = document.querySelector('[data-testid="stAlertContentError"]');
    if (alert) return { app_error: alert.textContent.slice(0, 200) };
  }
  const request = b.requests.find(([t, , auto]) => t >= since && !auto);
  if (!request) return false;
  const start = b.socket.find(([t, kind]) => t >= request[0] && kind === "start");
  if (!start) return false;
  const finishes = b.socket
    .filter(([t, kind]) => t >= start[0] && kind === "finish")
    .map(([t]) => t - since);
  if (!finishes.length) return false;
  const main = document.querySelector('[data-testid="stMain"]');
  const text = main ? main.textContent : "";
  if (!spec.text.every((pattern) => new RegExp(pattern).test(text))) return false;
  let seen = now;
  if (spec.grid) {
    const grid = b.lastShownGrid();
    const cell = grid && grid.querySelector('[id="glide-cell-0-0"]');
    if (!cell || !cell.textContent || cell.textContent === spec.gridNot) return false;
    const painted = b.paints.length ? b.paints[b.paints.length - 1][0] : now;
    seen = Math.max(start[0], Math.min(now, painted));
  }
  return { shown: seen - since, finishes };
}
