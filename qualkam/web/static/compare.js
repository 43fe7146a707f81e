// The Compare page (issue 13): two coders' codings of one document side by side, the places
// where they differ marked, and a decision on each written to the consensus coder as
// `qualkam reconcile` does (POST /api/consensus). Data is only ever put in the page as text.
(function () {
  "use strict";

  const O = window.qualkamOffsets;
  const { fromPath, quoted, safeColor, PALETTE } = window.qualkam;

  const params = new URLSearchParams(location.search);
  const state = {
    source: fromPath("/compare/"),
    a: params.get("a") || "",
    b: params.get("b") || "",
    by: null,
    codes: new Map(),
    data: null,
  };

  // every request goes through common.js (the token, the coder, one-line errors)
  const { api: call, el, status } = window.qualkam;

  function codeOf(id) {
    return state.codes.get(id) || { id, label: id, color: "#888888" };
  }

  function loadCodes(codes) {
    codes.forEach((code, i) => {
      code.color = safeColor(code.color) || PALETTE[i % PALETTE.length];
      state.codes.set(code.id, code);
    });
  }

  function fillCoders(coders) {
    for (const [id, chosen] of [
      ["coder-a", state.a],
      ["coder-b", state.b],
    ]) {
      const select = document.getElementById(id);
      if (!select) continue;
      select.textContent = "";
      const names = coders.slice();
      if (chosen && !names.includes(chosen)) names.push(chosen);
      for (const name of names) {
        const option = el("option", "", name);
        option.value = name;
        option.selected = name === chosen;
        select.appendChild(option);
      }
    }
  }

  // One segment's text with some codings and the disagreements marked, as a fragment.
  function segmentText(seg, codings, disagreements, who) {
    const layers = [];
    for (const c of codings) {
      const s = Math.max(c.start, seg.start);
      const e = Math.min(c.end, seg.end);
      if (s < e) layers.push({ s, e, coding: c });
    }
    for (const d of disagreements) {
      const s = Math.max(d.start, seg.start);
      const e = Math.min(d.end, seg.end);
      if (s < e && d[who]) layers.push({ s, e, disagreement: d });
    }
    layers.sort((x, y) => x.s - y.s || y.e - x.e);
    const fragment = document.createDocumentFragment();
    for (const piece of O.pieces(seg.string, seg.start, layers)) {
      let node = document.createTextNode(piece.text);
      for (let j = piece.covering.length - 1; j >= 0; j--) {
        const layer = piece.covering[j];
        let wrapper;
        if (layer.coding) {
          const c = layer.coding;
          wrapper = el("mark", "coding");
          wrapper.dataset.codingId = c.id;
          wrapper.dataset.code = c.code;
          wrapper.dataset.coder = c.coder || "";
          wrapper.style.setProperty("--code", codeOf(c.code).color);
          wrapper.title = codeOf(c.code).label + " · " + (c.coder || "");
        } else {
          const d = layer.disagreement;
          wrapper = el("mark", "disagreement");
          wrapper.dataset.code = d.code;
          wrapper.title = "only " + (d.a ? state.a : state.b) + " coded this as " + codeOf(d.code).label;
        }
        wrapper.appendChild(node);
        node = wrapper;
      }
      fragment.appendChild(node);
    }
    return fragment;
  }

  function consensusOf(d) {
    return (state.data.consensus || []).find((c) => c.start === d.start && c.end === d.end && c.code === d.code) || null;
  }

  function decisionRow(d) {
    const row = el("div", "decision");
    row.dataset.start = d.start;
    row.dataset.end = d.end;
    row.dataset.code = d.code;
    const code = codeOf(d.code);
    const head = el("div");
    const dot = el("span", "swatch");
    dot.style.setProperty("--code", code.color);
    head.appendChild(dot);
    head.appendChild(el("strong", "", code.label));
    head.appendChild(document.createTextNode(" · " + (d.a ? state.a : state.b) + " only"));
    row.appendChild(head);
    const quote = el("div", "quote", O.slice(state.data.text, d.start, d.end));
    quote.title = quote.textContent;
    row.appendChild(quote);
    const outcome = el("div", "outcome");
    const done = consensusOf(d);
    if (done) {
      row.classList.add("decided");
      outcome.textContent = "consensus: " + (done.status === "rejected" ? "not coded" : "coded");
    }
    row.appendChild(outcome);
    const buttons = el("div", "buttons");
    const choices = [
      ["keep-a", "Keep " + state.a + "'s", d.a ? "accept" : "reject"],
      ["keep-b", "Keep " + state.b + "'s", d.b ? "accept" : "reject"],
      ["neither", "Neither", "reject"],
    ];
    for (const [name, label, action] of choices) {
      const button = el("button", name, label);
      button.type = "button";
      button.addEventListener("click", () => decide(d, action, row));
      buttons.appendChild(button);
    }
    row.appendChild(buttons);
    return row;
  }

  async function decide(d, action, row) {
    status("saving…", "busy");
    try {
      const body = { source: state.source, start: d.start, end: d.end, code: d.code, action, by: state.by };
      await call("POST", "/api/consensus", body);
      state.data.consensus = (state.data.consensus || []).filter((c) => !(c.start === d.start && c.end === d.end && c.code === d.code));
      state.data.consensus.push({ start: d.start, end: d.end, code: d.code, status: action === "accept" ? "accepted" : "rejected" });
      row.replaceWith(decisionRow(d));
      status("saved", "ok");
    } catch (error) {
      status("not saved: " + error.message, "error");
    }
  }

  function render() {
    const data = state.data;
    const table = document.getElementById("compare-grid");
    const head = el("thead");
    const tr = el("tr");
    for (const label of ["", state.a, state.b, "Where they differ"]) tr.appendChild(el("th", "", label));
    head.appendChild(tr);
    const body = el("tbody");
    const at = O.walker(data.text);
    const segments = (data.segments || []).slice().sort((x, y) => x.start - y.start);
    let differing = 0;
    for (const seg of segments) {
      seg.string = data.text.slice(at(seg.start), at(seg.end));
      const overlaps = (c) => c.start < seg.end && c.end > seg.start;
      const inSeg = (data.disagreements || []).filter((d) => d.start >= seg.start && d.start < seg.end);
      const touching = (data.disagreements || []).filter(overlaps);
      const row = el("tr", "cmp-row" + (touching.length ? " differs" : ""));
      row.dataset.segmentId = seg.id;
      row.dataset.start = seg.start;
      row.dataset.end = seg.end;
      const label = el("td", "seg-label");
      if (seg.speaker) label.appendChild(el("div", "speaker", seg.speaker));
      if (seg.role && seg.role !== seg.speaker) label.appendChild(el("div", "role", seg.role));
      if (seg.time_start) label.appendChild(el("div", "time", seg.time_start));
      row.appendChild(label);
      for (const who of ["a", "b"]) {
        const cell = el("td", "seg-cell coder-" + who);
        cell.appendChild(segmentText(seg, (data[who] || []).filter(overlaps), touching, who));
        row.appendChild(cell);
      }
      const decisions = el("td", "decisions");
      for (const d of inSeg) decisions.appendChild(decisionRow(d));
      differing += inSeg.length;
      row.appendChild(decisions);
      body.appendChild(row);
    }
    table.textContent = "";
    table.appendChild(head);
    table.appendChild(body);
    const summary = document.getElementById("compare-summary");
    if (summary) {
      summary.textContent =
        (data.a || []).length + " codings by " + state.a + ", " + (data.b || []).length + " by " + state.b + "; " + differing + " places where they differ.";
    }
    table.dataset.ready = "true";
  }

  async function start() {
    try {
      const session = await call("GET", "/api/session");
      // who decides: the session's coder, else the name this browser gave (common.js asks once)
      state.by = session.coder || window.qualkam.coder() || "";
      const coders = session.coders || [];
      if (!state.a && coders.length) state.a = coders[0];
      if (!state.b && coders.length > 1) state.b = coders.find((name) => name !== state.a) || "";
      fillCoders(coders);
      if (!state.a || !state.b) {
        status("choose two coders", "");
        return;
      }
      const q = "?a=" + encodeURIComponent(state.a) + "&b=" + encodeURIComponent(state.b);
      const [data, codebook] = await Promise.all([
        call("GET", "/api/compare/" + quoted(state.source) + q),
        call("GET", "/api/codebook"),
      ]);
      loadCodes(codebook.codes || []);
      state.data = data;
      const title = document.getElementById("doc-title");
      if (title && data.title) title.textContent = data.title;
      render();
      status("", "");
    } catch (error) {
      status("could not load: " + error.message, "error");
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
