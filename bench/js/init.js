// Installed in every page (BrowserContext.add_init_script) before its scripts run; all times
// on the page's own clock (performance.now(), 0 = navigation start):
// - socket: when the server's messages arrive (Streamlit's ForwardMsg protobufs, of which we
//   read the top-level fields): "start" for new_session (4, a script run begins), "finish"
//   with its status for script_finished (6; 0 = a full run finished, 3 = a fragment run,
//   2 = stopped early for a rerun);
// - requests: when the page asks for a rerun (BackMsg.rerun_script), for which fragment and
//   whether a timer asked (fragments with run_every) or the user;
// - runs: the app root's script state (running / notRunning) as the page renders it;
// - lastInput: the last trusted click or key press.
(() => {
  if (window.__bench) return;
  // The page's last grid on screen: Streamlit 1.67 may keep a replaced grid mounted but
  // hidden (a "retained" element), e.g. after a search: a grid of other tickets or of another
  // row count is a new widget.
  const lastShownGrid = () => {
    const grids = [...document.querySelectorAll('[data-testid="stDataFrame"]')]
      .filter((grid) => grid.getClientRects().length > 0);
    return grids.length ? grids[grids.length - 1] : null;
  };
  const bench = (window.__bench = {
    lastShownGrid,
    runs: [], socket: [], requests: [], lastInput: null, marks: {},
  });
  // What the page's last grid on screen shows: a hash of the top of its canvas (the header
  // and the first rows, which the checks read), sampled every frame (under 1 ms), [time, hash]
  // on each change. Glide draws cells on the canvas at once but fills the accessible table that
  // the checks read (glide-cell-<col>-<row>) only after a 200 ms debounce, so a grid check
  // that passes is dated to when the canvas first showed what it shows then.
  bench.paints = [];
  const sample = () => {
    const grid = lastShownGrid();
    const canvas = grid ? grid.querySelector("canvas") : null;
    const context = canvas && canvas.width && canvas.height && canvas.getContext("2d");
    let hash = null;
    if (context) {
      const top = context.getImageData(0, 0, canvas.width, Math.min(canvas.height, 150));
      const pixels = new Uint32Array(top.data.buffer);
      hash = 2166136261;
      for (let i = 0; i < pixels.length; i++) hash = Math.imul(hash ^ pixels[i], 16777619);
    }
    const last = bench.paints[bench.paints.length - 1];
    if (!last || last[1] !== hash) bench.paints.push([performance.now(), hash]);
    requestAnimationFrame(sample);
  };
  requestAnimationFrame(sample);
  const note = (e) => { if (e.isTrusted) bench.lastInput = e.timeStamp; };
  addEventListener("pointerdown", note, true);
  addEventListener("keydown", note, true);
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      bench.runs.push([performance.now(), m.target.getAttribute("data-test-script-state")]);
    }
  }).observe(document, {
    attributes: true, subtree: true, attributeFilter: ["data-test-script-state"],
  });
  // The top-level fields of a protobuf message: [field, wire type, value or [start, end]].
  const fields = (bytes) => {
    const found = [];
    let i = 0;
    const varint = () => {
      let value = 0, shift = 0, b;
      do { b = bytes[i++]; value += (b & 0x7f) * 2 ** shift; shift += 7; }
      while (b & 0x80 && i < bytes.length);
      return value;
    };
    while (i < bytes.length) {
      const key = varint(), field = Math.floor(key / 8), wire = key & 7;
      if (wire === 0) found.push([field, wire, varint()]);
      else if (wire === 2) { const n = varint(); found.push([field, wire, [i, i + n]]); i += n; }
      else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else break;
    }
    return found;
  };
  const received = (bytes, at) => {
    for (const [field, , value] of fields(bytes)) {
      if (field === 4) bench.socket.push([at, "start"]);
      if (field === 6) bench.socket.push([at, "finish", value]);
    }
  };
  // BackMsg.rerun_script (11) is a ClientState: fragment_id (5), is_auto_rerun (6).
  const sent = (bytes, at) => {
    for (const [field, wire, span] of fields(bytes)) {
      if (field !== 11 || wire !== 2) continue;
      const state = bytes.subarray(span[0], span[1]);
      let fragment = "", auto = false;
      for (const [f, w, v] of fields(state)) {
        if (f === 5 && w === 2) fragment = new TextDecoder().decode(state.subarray(v[0], v[1]));
        if (f === 6 && w === 0) auto = v === 1;
      }
      bench.requests.push([at, fragment, auto]);
    }
  };
  const bytesOf = (data) => data instanceof ArrayBuffer ? new Uint8Array(data)
    : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : null;
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        const bytes = bytesOf(e.data);
        if (bytes) received(bytes, performance.now());
      });
    }
    send(data) {
      const bytes = bytesOf(data);
      if (bytes) { try { sent(bytes, performance.now()); } catch (e) { /* not ours */ } }
      return super.send(data);
    }
  };
})();
