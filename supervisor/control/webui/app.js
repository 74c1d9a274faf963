// tend web page: live process table (server-sent events), CPU and memory
// figures with sparklines (polled while the page is visible), actions by
// POST with the page's CSRF token, a log view that follows output, group
// filter, and a detail view per process (#proc/NAME).
// URLs are built from location.origin so that a page opened as
// http://user:pass@host/ can still use fetch (which refuses URLs carrying
// credentials).
(function () {
  "use strict";
  const base = location.origin + location.pathname.replace(/[^/]*$/, "");
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const WINDOW = 600; // seconds of history the sparklines span
  document.documentElement.classList.add("js");
  $("live").textContent = "connecting…";
  let snapshot = { processes: [], now: 0 };
  let byName = new Map(); // namespec -> process of snapshot
  let received = Date.now();

  function stateClass(s) {
    if (s === "RUNNING") return "statusrunning";
    if (s === "FATAL" || s === "BACKOFF") return "statuserror";
    return "statusnominal";
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function uptime(secs) {
    secs = Math.max(0, Math.floor(secs));
    const days = Math.floor(secs / 86400); secs %= 86400;
    const hms = Math.floor(secs / 3600) + ":" + pad(Math.floor(secs % 3600 / 60)) + ":" + pad(secs % 60);
    if (days === 0) return hms;
    return days + (days === 1 ? " day, " : " days, ") + hms;
  }
  function serverNow() { return snapshot.now + (Date.now() - received) / 1000; }
  function describe(p) {
    if (p.statename === "RUNNING" && p.start) {
      return p.description.replace(/uptime (\d+ days?, )?\d+:\d\d:\d\d/, "uptime " + uptime(serverNow() - p.start));
    }
    return p.description;
  }
  // size writes bytes 1024-based with one decimal, as the server does.
  function size(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    if (n < 1024) return n + "B";
    let u = 0;
    while (n >= 1024 && u < 4) { n /= 1024; u++; }
    return n.toFixed(1) + units[u];
  }
  function clock(epoch) {
    const d = new Date(epoch * 1000);
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  function exitText(p) { return p.exit ? p.exit + " at " + clock(p.exit_time) : ""; }

  // A row's actions: one form (what the server renders too, so the page
  // works without JavaScript) whose submits act() intercepts, and a Tail
  // link that opens the log view here.
  function button(label, action, name) {
    const b = document.createElement("button");
    b.name = "action"; b.value = action; b.textContent = label;
    b.dataset.action = action; b.dataset.name = name;
    return b;
  }
  function hidden(name, value) {
    const i = document.createElement("input");
    i.type = "hidden"; i.name = name; i.value = value;
    return i;
  }
  function actionsFor(p) {
    const f = document.createElement("form");
    f.className = "act"; f.method = "post"; f.action = "ui/action";
    f.append(hidden("csrf", token), hidden("name", p.namespec));
    for (const b of buttonsFor(p)) f.append(b, " ");
    return [f, tailLink(p)];
  }
  function buttonsFor(p) {
    const buttons = [];
    if (p.statename === "RUNNING") {
      buttons.push(button("Restart", "restart", p.namespec), button("Stop", "stop", p.namespec));
    } else if (["STOPPED", "EXITED", "FATAL"].includes(p.statename)) {
      buttons.push(button("Start", "start", p.namespec));
    } else if (p.statename === "STARTING" || p.statename === "BACKOFF") {
      buttons.push(button("Stop", "stop", p.namespec));
    }
    buttons.push(button("Clear Log", "clear", p.namespec));
    return buttons;
  }
  function tailLink(p) {
    const tail = document.createElement("a");
    tail.className = "button"; tail.textContent = "Tail";
    tail.href = "tail.html?processname=" + encodeURIComponent(p.namespec);
    tail.dataset.action = "tail"; tail.dataset.name = p.namespec;
    return tail;
  }
  // rowActions are a table row's buttons without the form the server
  // renders: with 1000 rows the page builds only what it uses, and a
  // click on them is handled below.
  function rowActions(p) {
    const out = [];
    for (const b of buttonsFor(p)) { b.type = "button"; out.push(b, " "); }
    out.push(tailLink(p));
    return out;
  }
  function showGroupActions(group) {
    $("groupactions").hidden = !group;
    $("groupname").value = group;
    $("grouplabel").textContent = group;
  }

  // --- Resource history, kept per process from /ui/usage -------------
  // usage: namespec -> {run, cpu, rss, t: [ms], c: [%], m: [KiB]}
  const usage = new Map();
  let usageNow = 0, usageStep = 5, lastPoint = 0;
  function mergeUsage(data) {
    usageNow = data.now; usageStep = data.step;
    const cut = (data.now - WINDOW) * 1000;
    for (const [name, u] of Object.entries(data.procs)) {
      let h = usage.get(name);
      if (!h) { h = { t: [], c: [], m: [] }; usage.set(name, h); }
      h.run = u.run; h.cpu = u.cpu; h.rss = u.rss;
      const last = h.t.length ? h.t[h.t.length - 1] : 0;
      for (let k = 0; k < u.t.length; k++) {
        if (u.t[k] <= last) continue; // a point already held
        h.t.push(u.t[k]); h.c.push(u.c[k]); h.m.push(u.m[k]);
        if (u.t[k] > lastPoint) lastPoint = u.t[k];
      }
      let drop = 0;
      while (drop < h.t.length && h.t[drop] < cut) drop++;
      if (drop) { h.t.splice(0, drop); h.c.splice(0, drop); h.m.splice(0, drop); }
    }
    for (const name of usage.keys()) if (!(name in data.procs)) usage.delete(name);
  }
  // span is the time the charts of a history cover, in seconds: from its
  // oldest point to now, at least a minute and at most WINDOW, so a line
  // fills its box soon after the page opens.
  function span(t) {
    const oldest = t.length ? t[0] / 1000 : usageNow;
    return Math.min(WINDOW, Math.max(60, Math.ceil((usageNow - oldest) / 60) * 60));
  }
  // linePath draws times t (ms) and values v as an SVG path over the
  // last span(t) seconds in a w x h box, with v = top mapped to the top
  // edge; a gap of more than two steps (nothing sampled, or a restart)
  // breaks the line.
  function linePath(t, v, top, w, h) {
    const sp = span(t) * 1000, from = usageNow * 1000 - sp;
    let d = "", prev = -Infinity;
    for (let k = 0; k < t.length; k++) {
      const x = ((t[k] - from) / sp * w).toFixed(1);
      const y = (h - 1 - Math.min(v[k], top) / top * (h - 2)).toFixed(1);
      d += (t[k] - prev > 2.5 * usageStep * 1000 ? "M" : "L") + x + " " + y;
      prev = t[k];
    }
    return d;
  }
  function maxOf(v) { let m = 0; for (const x of v) if (x > m) m = x; return m; }
  function spark(kind) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "spark " + kind);
    svg.setAttribute("viewBox", "0 0 80 18");
    svg.setAttribute("preserveAspectRatio", "none");
    const path = document.createElementNS(SVG, "path");
    svg.append(path);
    return svg;
  }

  // --- The table, updated in place -----------------------------------
  // rows: namespec -> {tr, cells..., shown values}; a row is built once
  // and only its changed cells are written after that, so a refresh of
  // 1000 processes touches only what moved.
  const rows = new Map();
  let firstRender = true, firstMeasured = false;
  function makeRow(p) {
    const tr = document.createElement("tr");
    tr.dataset.name = p.namespec; tr.dataset.group = p.group;
    const td = (cls) => { const c = document.createElement("td"); c.className = cls; return c; };
    const r = { tr, st: td("state"), desc: td("desc"), name: td("name"), cpu: td("cpu"), mem: td("mem"),
      restarts: td("restarts num"), exit: td("exit"), act: td("actions"), v: {} };
    r.span = document.createElement("span"); r.st.append(r.span);
    const a = document.createElement("a");
    a.href = "#proc/" + encodeURIComponent(p.namespec); a.textContent = p.namespec; a.dataset.action = "detail";
    r.name.append(a);
    r.cpuText = document.createElement("span"); r.cpuSpark = spark("cpu"); r.cpu.append(r.cpuText, r.cpuSpark);
    r.memText = document.createElement("span"); r.memSpark = spark("mem"); r.mem.append(r.memText, r.memSpark);
    tr.append(r.st, r.desc, r.name, r.cpu, r.mem, r.restarts, r.exit, r.act);
    rows.set(p.namespec, r);
    return r;
  }
  // set writes a value into an element only when it changed.
  function set(r, key, el, text) { if (r.v[key] !== text) { r.v[key] = text; el.textContent = text; } }
  function updateRow(r, p) {
    if (r.v.state !== p.statename) {
      r.v.state = p.statename;
      r.span.className = stateClass(p.statename); r.span.textContent = p.statename.toLowerCase();
      r.act.replaceChildren(...rowActions(p));
    }
    set(r, "desc", r.desc, describe(p));
    set(r, "restarts", r.restarts, String(p.restarts));
    set(r, "exit", r.exit, exitText(p));
    if (r.v.limit !== p.limit) { r.v.limit = p.limit; r.restarts.title = p.limit || ""; r.restarts.classList.toggle("limited", !!p.limit); }
    updateFigures(r, p.namespec);
  }
  function updateFigures(r, name) {
    const h = usage.get(name);
    const run = h && h.run;
    set(r, "cpu", r.cpuText, run ? h.cpu.toFixed(1) + "%" : "");
    set(r, "mem", r.memText, run ? size(h.rss) : "");
    const n = h ? h.t.length : 0, lastT = n ? h.t[n - 1] : 0;
    // Redraw when a point came or the window moved a step.
    const key = n + ":" + lastT + ":" + Math.floor(usageNow / usageStep);
    if (r.v.spark === key) return;
    r.v.spark = key;
    if (!n) {
      r.cpuSpark.firstChild.setAttribute("d", ""); r.memSpark.firstChild.setAttribute("d", "");
      return;
    }
    const cmax = maxOf(h.c), mmax = maxOf(h.m);
    r.cpuSpark.firstChild.setAttribute("d", linePath(h.t, h.c, Math.max(cmax, 10), 80, 18));
    r.memSpark.firstChild.setAttribute("d", linePath(h.t, h.m, Math.max(mmax * 1.15, 1), 80, 18));
  }
  // measure records how long a piece of work took as a performance
  // measure (the last one of each name is kept), for the tests and for
  // anyone profiling the page with many processes.
  function measure(name, t0) {
    performance.clearMeasures(name);
    performance.measure(name, { start: t0, end: performance.now() });
  }
  function render() {
    const t0 = performance.now();
    // A filter of only spaces filters nothing, as on the server.
    const group = $("group").value, filter = $("filter").value.trim().toLowerCase();
    const groups = [...new Set(snapshot.processes.map((p) => p.group))].sort();
    const sel = $("group");
    const have = [...sel.options].slice(1).map((o) => o.value);
    if (have.join("\n") !== groups.join("\n")) {
      sel.length = 1;
      for (const g of groups) sel.add(new Option(g, g));
      sel.value = groups.includes(group) ? group : "";
    }
    showGroupActions(sel.value);
    const tbody = $("rows");
    if (firstRender) { tbody.replaceChildren(); firstRender = false; } // the server's rows
    let i = 0;
    let at = tbody.firstChild;
    for (const p of snapshot.processes) {
      if (group && p.group !== group) continue;
      if (filter && !p.namespec.toLowerCase().includes(filter)) continue;
      const r = rows.get(p.namespec) || makeRow(p);
      updateRow(r, p);
      const shade = i++ % 2 === 1;
      if (r.v.shade !== shade) { r.v.shade = shade; r.tr.className = shade ? "shade" : ""; }
      // Move a row only when it is out of place.
      if (at === r.tr) at = at.nextSibling;
      else tbody.insertBefore(r.tr, at);
    }
    while (at) { const next = at.nextSibling; at.remove(); at = next; }
    for (const name of rows.keys()) if (!byName.has(name)) rows.delete(name);
    if (detailName) renderDetail();
    measure(firstMeasured ? "tend-render" : "tend-first-render", t0);
    firstMeasured = true;
  }
  function tick() {
    for (const tr of $("rows").rows) {
      const p = byName.get(tr.dataset.name), r = rows.get(tr.dataset.name);
      if (p && r && p.statename === "RUNNING") set(r, "desc", r.desc, describe(p));
    }
    if (detailName) renderFacts();
  }
  function update(data) {
    snapshot = data; received = Date.now();
    byName = new Map(data.processes.map((p) => [p.namespec, p]));
    render();
  }

  async function refresh() {
    const r = await fetch(base + "ui/status", { cache: "no-store" });
    if (r.ok) update(await r.json());
  }
  // pollUsage samples the figures once per step while the page is
  // visible: the daemon samples /proc only because the page asks, so a
  // hidden or closed page costs it nothing.
  let usageTimer = 0;
  async function pollUsage() {
    clearTimeout(usageTimer);
    if (document.hidden) return;
    try {
      const since = lastPoint ? (lastPoint / 1000 - 2 * usageStep).toFixed(3) : "0";
      const r = await fetch(base + "ui/usage?since=" + since, { cache: "no-store" });
      if (r.ok) {
        const data = await r.json(), t0 = performance.now();
        mergeUsage(data);
        for (const [name, row] of rows) if (row.tr.isConnected) updateFigures(row, name);
        if (detailName) renderCharts();
        measure("tend-usage", t0);
      }
    } catch (e) { /* the next poll tries again */ }
    usageTimer = setTimeout(pollUsage, usageStep * 1000);
  }
  document.addEventListener("visibilitychange", () => { if (!document.hidden) pollUsage(); });
  function message(text) { $("msg").textContent = text; }

  async function act(action, name, btn) {
    if (btn) btn.disabled = true;
    try {
      const body = new URLSearchParams({ action: action, name: name || "" });
      const r = await fetch(base + "ui/action", {
        method: "POST", body: body,
        headers: { "X-CSRF-Token": token },
      });
      const j = await r.json().catch(() => ({ message: "HTTP " + r.status }));
      message(j.message || ("HTTP " + r.status));
      if (action === "clear" && name === logName) $("log").textContent = "";
    } catch (e) {
      message("ERROR: " + e);
    } finally {
      if (btn) btn.disabled = false;
    }
  }

  // Log view: follows /logtail/NAME/CHANNEL as a streamed response.
  let logName = "", logAbort = null;
  async function openLog(name) {
    if (logAbort) logAbort.abort();
    logName = name;
    const channel = $("logchannel").value;
    $("logview").hidden = false;
    $("logtitle").textContent = name + " (" + channel + ")";
    const pre = $("log");
    pre.textContent = "";
    const ctl = new AbortController();
    logAbort = ctl;
    try {
      const r = await fetch(base + "logtail/" + encodeURIComponent(name) + "/" + channel, { signal: ctl.signal });
      if (!r.ok) { pre.textContent = "(no log file: HTTP " + r.status + ")"; return; }
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        pre.append(dec.decode(value, { stream: true }));
        if (pre.textContent.length > 2000000) pre.textContent = pre.textContent.slice(-1000000);
        if ($("logfollow").checked) pre.scrollTop = pre.scrollHeight;
      }
    } catch (e) {
      if (e.name !== "AbortError") pre.append("\n(log stream ended: " + e + ")");
    }
  }
  function closeLog() { if (logAbort) logAbort.abort(); logAbort = null; logName = ""; $("logview").hidden = true; }
  $("logclose").onclick = closeLog;
  $("logchannel").onchange = () => { if (logName) openLog(logName); };

  // --- Detail view: #proc/NAME ---------------------------------------
  let detailName = "", detailState = "", detailConfig = null;
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function configValue(name) {
    if (!detailConfig) return "";
    const o = detailConfig.options.find((x) => x.name === name);
    return o ? o.value : "";
  }
  function renderFacts() {
    const p = byName.get(detailName);
    if (!p) return;
    const h = usage.get(detailName);
    const facts = [["Pid", p.pid ? String(p.pid) : "-"], ["Description", describe(p)],
      ["CPU", h && h.run ? h.cpu.toFixed(1) + "%" : "-"], ["Memory", h && h.run ? size(h.rss) : "-"],
      ["Restarts", String(p.restarts)], ["Last exit", exitText(p) || "-"]];
    const mm = configValue("max_memory");
    if (mm && mm !== "0") facts.push(["max_memory", mm + " for " + configValue("max_memory_for") + " s, " + (p.memory_restarts || 0) + " restarts"]);
    const sl = configValue("start_limit");
    if (sl) facts.push(["start_limit", sl + ", " + (p.start_failures || 0) + " failures counted"]);
    if (p.limit) facts.push(["Limit", p.limit]);
    const dl = $("dfacts");
    const key = JSON.stringify(facts);
    if (dl.dataset.key === key) return;
    dl.dataset.key = key;
    dl.replaceChildren(...facts.flatMap(([k, v]) => [el("dt", k), el("dd", v, k === "Limit" ? "limited" : "")]));
  }
  function renderChart(svg, t, v, top, label, fmt) {
    const path = svg.querySelector("path") || svg.appendChild(document.createElementNS(SVG, "path"));
    path.setAttribute("d", t.length ? linePath(t, v, top, 600, 120) : "");
    label.textContent = t.length ? "(max " + fmt(maxOf(v)) + " over the last " + span(t) / 60 + " min)" : "(no samples yet)";
  }
  function renderCharts() {
    const h = usage.get(detailName) || { t: [], c: [], m: [] };
    renderChart($("dcpu"), h.t, h.c, Math.max(maxOf(h.c), 10), $("dcpumax"), (x) => x.toFixed(1) + "%");
    renderChart($("dmem"), h.t, h.m, Math.max(maxOf(h.m) * 1.15, 1), $("dmemmax"), (x) => size(x * 1024));
  }
  function renderDetail() {
    const p = byName.get(detailName);
    if (!p) { $("dstate").textContent = "(no such process)"; return; }
    const span = el("span", p.statename.toLowerCase(), stateClass(p.statename));
    $("dstate").replaceChildren(span);
    if (detailState !== p.statename + p.pid) {
      detailState = p.statename + p.pid;
      $("dactions").replaceChildren(...actionsFor(p));
      loadTimeline();
    }
    renderFacts();
  }
  async function loadTimeline() {
    const name = detailName;
    const r = await fetch(base + "v1/events?name=" + encodeURIComponent(name), { cache: "no-store" });
    if (!r.ok || name !== detailName) return;
    const evs = (await r.json()).events || [];
    const body = $("dtimeline").tBodies[0];
    body.replaceChildren(...evs.slice().reverse().map((e) => {
      const tr = el("tr");
      const change = el("td");
      change.append(el("span", e.from.toLowerCase(), "from"), " → ", el("span", e.to.toLowerCase(), stateClass(e.to)));
      let reason = e.reason || "";
      if (e.exit_code !== undefined && !reason) reason = "exit " + e.exit_code;
      tr.append(el("td", clock(e.time)), change, el("td", e.pid ? String(e.pid) : ""), el("td", reason));
      return tr;
    }));
    // The band: one rectangle per state, from its change to the next.
    const band = $("dband");
    band.replaceChildren();
    if (!evs.length) { $("dbandfrom").textContent = "no state changes recorded"; return; }
    const from = evs[0].time, now = Math.max(serverNow(), evs[evs.length - 1].time + 1), span = now - from;
    $("dbandfrom").textContent = clock(from);
    evs.forEach((e, k) => {
      const end = k + 1 < evs.length ? evs[k + 1].time : now;
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", ((e.time - from) / span * 1000).toFixed(2));
      rect.setAttribute("width", Math.max((end - e.time) / span * 1000, 0.5).toFixed(2));
      rect.setAttribute("y", "0"); rect.setAttribute("height", "14");
      rect.setAttribute("class", "band-" + e.to.toLowerCase());
      const title = document.createElementNS(SVG, "title");
      title.textContent = e.to + " from " + clock(e.time);
      rect.append(title);
      band.append(rect);
    });
  }
  async function loadConfig() {
    const name = detailName;
    const body = $("dconfig").tBodies[0];
    body.replaceChildren();
    detailConfig = null;
    const r = await fetch(base + "v1/config?name=" + encodeURIComponent(name), { cache: "no-store" });
    if (name !== detailName) return;
    if (!r.ok) { body.append(el("tr", "(no config: HTTP " + r.status + ")")); return; }
    detailConfig = await r.json();
    $("dsource").textContent = detailConfig.source ? "from " + detailConfig.source : "";
    body.replaceChildren(...detailConfig.options.map((o) => {
      const tr = el("tr", undefined, o.value !== o.default && o.value !== "" ? "set" : "");
      tr.append(el("th", o.name), el("td", o.value === "" ? "-" : o.value));
      return tr;
    }));
    renderFacts();
  }
  function route() {
    const m = /^#proc\/(.+)$/.exec(location.hash);
    const name = m ? decodeURIComponent(m[1]) : "";
    if (name === detailName) return;
    detailName = name; detailState = "";
    $("detail").hidden = !name;
    $("procs").hidden = !!name;
    if (!name) {
      document.body.insertBefore($("logview"), $("detail").nextSibling);
      closeLog();
      return;
    }
    $("dname").textContent = name;
    $("dfacts").dataset.key = "";
    $("dlog").append($("logview"));
    renderDetail();
    renderCharts();
    loadConfig();
    openLog(name);
    window.scrollTo(0, 0);
  }
  window.addEventListener("hashchange", route);

  document.addEventListener("submit", (ev) => {
    const f = ev.target;
    if (!f.matches("form.act")) return;
    ev.preventDefault();
    const b = ev.submitter;
    if (b) act(b.value, f.elements.name.value, b);
  });
  $("rows").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (b) act(b.dataset.action, b.dataset.name, b);
  });
  document.addEventListener("click", (ev) => {
    const a = ev.target.closest('a[data-action="tail"]');
    if (a) { ev.preventDefault(); openLog(a.dataset.name); }
  });
  $("refresh").onclick = (ev) => { ev.preventDefault(); refresh(); pollUsage(); message("Page refreshed at " + new Date().toString()); };
  $("view").onsubmit = (ev) => { ev.preventDefault(); render(); };
  $("group").onchange = render;
  $("filter").oninput = render;

  function connect() {
    const es = new EventSource(base + "ui/events");
    es.addEventListener("status", (ev) => { $("live").className = "live on"; $("live").textContent = "live"; update(JSON.parse(ev.data)); });
    es.onerror = () => { $("live").className = "live off"; $("live").textContent = "reconnecting…"; };
  }
  refresh().then(route);
  connect();
  pollUsage();
  setInterval(tick, 1000);
})();
