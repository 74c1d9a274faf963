// tend web page: live process table (server-sent events), actions by POST
// with the page's CSRF token, a log view that follows output, group filter.
// URLs are built from location.origin so that a page opened as
// http://user:pass@host/ can still use fetch (which refuses URLs carrying
// credentials).
(function () {
  "use strict";
  const base = location.origin + location.pathname.replace(/[^/]*$/, "");
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  document.documentElement.classList.add("js");
  $("live").textContent = "connecting…";
  let snapshot = { processes: [], now: 0 };
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
  function describe(p) {
    if (p.statename === "RUNNING" && p.start) {
      const now = snapshot.now + (Date.now() - received) / 1000;
      return p.description.replace(/uptime (\d+ days?, )?\d+:\d\d:\d\d/, "uptime " + uptime(now - p.start));
    }
    return p.description;
  }
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
    const buttons = [];
    if (p.statename === "RUNNING") {
      buttons.push(button("Restart", "restart", p.namespec), button("Stop", "stop", p.namespec));
    } else if (["STOPPED", "EXITED", "FATAL"].includes(p.statename)) {
      buttons.push(button("Start", "start", p.namespec));
    } else if (p.statename === "STARTING" || p.statename === "BACKOFF") {
      buttons.push(button("Stop", "stop", p.namespec));
    }
    buttons.push(button("Clear Log", "clear", p.namespec));
    for (const b of buttons) f.append(b, " ");
    const tail = document.createElement("a");
    tail.className = "button"; tail.textContent = "Tail";
    tail.href = "tail.html?processname=" + encodeURIComponent(p.namespec);
    tail.dataset.action = "tail"; tail.dataset.name = p.namespec;
    return [f, tail];
  }
  function showGroupActions(group) {
    $("groupactions").hidden = !group;
    $("groupname").value = group;
    $("grouplabel").textContent = group;
  }
  function render() {
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
    const rows = [];
    let i = 0;
    for (const p of snapshot.processes) {
      if (group && p.group !== group) continue;
      if (filter && !p.namespec.toLowerCase().includes(filter)) continue;
      const tr = document.createElement("tr");
      tr.dataset.name = p.namespec; tr.dataset.group = p.group;
      if (i++ % 2) tr.className = "shade";
      const st = document.createElement("td"); st.className = "state";
      const span = document.createElement("span");
      span.className = stateClass(p.statename); span.textContent = p.statename.toLowerCase();
      st.append(span);
      const desc = document.createElement("td"); desc.className = "desc"; desc.textContent = describe(p);
      const name = document.createElement("td"); name.className = "name";
      const a = document.createElement("a");
      a.href = "tail.html?processname=" + encodeURIComponent(p.namespec); a.target = "_blank"; a.textContent = p.namespec;
      name.append(a);
      const act = document.createElement("td"); act.className = "actions"; act.append(...actionsFor(p));
      tr.append(st, desc, name, act);
      rows.push(tr);
    }
    tbody.replaceChildren(...rows);
  }
  function tick() {
    for (const tr of $("rows").rows) {
      const p = snapshot.processes.find((x) => x.namespec === tr.dataset.name);
      if (p && p.statename === "RUNNING") tr.querySelector(".desc").textContent = describe(p);
    }
  }
  function update(data) { snapshot = data; received = Date.now(); render(); }

  async function refresh() {
    const r = await fetch(base + "ui/status", { cache: "no-store" });
    if (r.ok) update(await r.json());
  }
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
  $("logclose").onclick = () => { if (logAbort) logAbort.abort(); logAbort = null; logName = ""; $("logview").hidden = true; };
  $("logchannel").onchange = () => { if (logName) openLog(logName); };

  document.addEventListener("submit", (ev) => {
    const f = ev.target;
    if (!f.matches("form.act")) return;
    ev.preventDefault();
    const b = ev.submitter;
    if (b) act(b.value, f.elements.name.value, b);
  });
  $("rows").addEventListener("click", (ev) => {
    const a = ev.target.closest('a[data-action="tail"]');
    if (a) { ev.preventDefault(); openLog(a.dataset.name); }
  });
  $("refresh").onclick = (ev) => { ev.preventDefault(); refresh(); message("Page refreshed at " + new Date().toString()); };
  $("view").onsubmit = (ev) => { ev.preventDefault(); render(); };
  $("group").onchange = render;
  $("filter").oninput = render;

  function connect() {
    const es = new EventSource(base + "ui/events");
    es.addEventListener("status", (ev) => { $("live").className = "live on"; $("live").textContent = "live"; update(JSON.parse(ev.data)); });
    es.onerror = () => { $("live").className = "live off"; $("live").textContent = "reconnecting…"; };
  }
  refresh();
  connect();
  setInterval(tick, 1000);
})();
