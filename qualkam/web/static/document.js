// The Document page (issue 13): read a whole transcript and code any passage.
//
// One pass builds the transcript: per segment a header, the text split into pieces at every
// boundary of a coding or suggestion (each piece wrapped in one element per coding that covers
// it), and the stripes in the margin. A write re-renders only the segments it touches.
// Offsets: the API counts code points of the stored text, the DOM UTF-16 units (offsets.js).
// Data from the project is only ever put in the page as text (textContent), never as markup.
(function () {
  "use strict";

  const O = window.qualkamOffsets;
  const { fromPath, quoted, safeColor, PALETTE } = window.qualkam;
  const RECENT_KEY = "qualkam-recent-codes";

  const state = {
    source: fromPath("/sources/"),
    coder: null,
    blind: false,
    text: "",
    segments: [], // {id, start, end, speaker, role, time_start, time_end, el, textEl, stripesEl}
    codings: new Map(), // id -> coding
    suggestions: new Map(), // id -> suggestion
    codes: new Map(), // id -> code, with .color always set and .depth
    codeOrder: [],
    undo: [],
    redo: [],
    renamed: new Map(), // an undone removal writes the coding again under a new id: old -> new
    pending: null, // {start, end}: the selection the picker is coding
    target: null, // {start, end}: the span a link (#c-START-END) points at
    current: null, // the suggestion id j/k or a click chose
    busy: false,
  };

  // ---- the API ----------------------------------------------------------------------------

  // every request goes through common.js (the token, the coder, one-line errors)
  const { api: call, el, status } = window.qualkam;

  function withCoder(path) {
    return path + (path.includes("?") ? "&" : "?") + "coder=" + encodeURIComponent(state.coder || "");
  }

  async function findCoder(session) {
    // the session's coder, else the name this browser gave (common.js asks once)
    return session.coder || window.qualkam.coder();
  }

  // ---- small helpers ------------------------------------------------------------------------

  function codeOf(id) {
    return state.codes.get(id) || { id, label: id, color: "#888888", definition: "", depth: 0 };
  }

  function resolve(id) {
    while (state.renamed.has(id)) id = state.renamed.get(id);
    return id;
  }

  function mine(coding) {
    return coding.coder === state.coder;
  }

  function typing(event) {
    const t = event.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  // The index of the first segment whose end is after `offset` (binary search; segments are in order).
  function firstSegmentEndingAfter(offset) {
    let lo = 0;
    let hi = state.segments.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (state.segments[mid].end <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  function segmentsOverlapping(start, end) {
    const found = [];
    for (let i = firstSegmentEndingAfter(start); i < state.segments.length; i++) {
      const seg = state.segments[i];
      if (seg.start >= end && !(start === end && seg.start === start)) break;
      found.push(seg);
    }
    return found;
  }

  // ---- rendering ----------------------------------------------------------------------------

  function evidenceLine(item) {
    if (item.text && item.rule) return "“" + item.text + "” (" + item.rule + ")";
    if (item.text) return "“" + item.text + "”";
    return Object.entries(item)
      .filter(([key]) => key !== "start" && key !== "end")
      .map(([key, value]) => key + ": " + (typeof value === "object" ? JSON.stringify(value) : value))
      .join(", ");
  }

  function suggestionTitle(s) {
    const code = codeOf(s.code);
    const lines = ["Suggested: " + code.label + " (" + s.code + ")", "score " + Number(s.score || 0).toFixed(2) + " · " + s.origin];
    for (const item of s.evidence || []) lines.push("evidence: " + evidenceLine(item));
    lines.push("a: accept · r: reject · j/k: next/previous");
    return lines.join("\n");
  }

  // The codings and suggestions over a segment. The first rendering sorts them into the
  // segments in one pass (seg.bucket); after a write, a re-rendered segment looks them up again.
  function itemsOf(seg) {
    if (seg.bucket) return seg.bucket;
    const over = (item) => item.start < seg.end && item.end > seg.start;
    return {
      codings: Array.from(state.codings.values()).filter(over),
      suggestions: Array.from(state.suggestions.values()).filter(over),
    };
  }

  function bucketAll() {
    for (const seg of state.segments) seg.bucket = { codings: [], suggestions: [] };
    const place = (item, list) => {
      for (let i = firstSegmentEndingAfter(item.start); i < state.segments.length; i++) {
        const seg = state.segments[i];
        if (seg.start >= item.end) break;
        seg.bucket[list].push(item);
      }
    };
    for (const coding of state.codings.values()) place(coding, "codings");
    for (const s of state.suggestions.values()) place(s, "suggestions");
  }

  // What a segment shows: codings, the places of the suggestions (their evidence when it lies
  // in the suggestion's span, else the span itself), the selection being coded, the link's target.
  function layersIn(seg) {
    const layers = [];
    const add = (kind, start, end, item) => {
      const s = Math.max(start, seg.start);
      const e = Math.min(end, seg.end);
      if (s < e) layers.push({ kind, start, end, s, e, item });
    };
    const items = itemsOf(seg);
    for (const coding of items.codings) add("coding", coding.start, coding.end, coding);
    for (const s of items.suggestions) {
      const places = (s.evidence || []).filter(
        (e) => Number.isInteger(e.start) && Number.isInteger(e.end) && e.start >= s.start && e.end <= s.end && e.start < e.end,
      );
      if (places.length) for (const place of places) add("suggestion", place.start, place.end, s);
      else add("suggestion", s.start, s.end, s);
    }
    if (state.pending) add("pending", state.pending.start, state.pending.end, null);
    if (state.target) add("target", state.target.start, state.target.end, null);
    // outermost first: the longest span that starts first, then codings before suggestions
    const rank = { target: 0, coding: 1, suggestion: 2, pending: 3 };
    layers.sort((a, b) => a.start - b.start || b.end - a.end || rank[a.kind] - rank[b.kind] || (a.item && b.item ? a.item.id - b.item.id : 0));
    return layers;
  }

  function wrapperFor(layer, first) {
    let node;
    if (layer.kind === "coding") {
      const c = layer.item;
      node = el("mark", "coding " + (mine(c) ? "mine" : "other"));
      node.dataset.codingId = c.id;
      node.dataset.code = c.code;
      node.dataset.coder = c.coder || "";
      node.style.setProperty("--code", codeOf(c.code).color);
      node.title = codeOf(c.code).label + " · " + (c.coder || "") + (c.memo ? "\nmemo: " + c.memo : "");
    } else if (layer.kind === "suggestion") {
      const s = layer.item;
      node = el("span", "suggestion");
      node.dataset.suggestionId = s.id;
      node.dataset.code = s.code;
      node.style.setProperty("--code", codeOf(s.code).color);
      node.title = suggestionTitle(s);
      if (first) node.tabIndex = 0;
      if (state.current === s.id) node.classList.add("current");
    } else {
      node = el("span", layer.kind);
    }
    return node;
  }

  function renderText(seg) {
    const fragment = document.createDocumentFragment();
    const seen = new Set();
    for (const piece of O.pieces(seg.string, seg.start, layersIn(seg))) {
      let node = document.createTextNode(piece.text);
      for (let j = piece.covering.length - 1; j >= 0; j--) {
        const layer = piece.covering[j];
        const key = layer.kind + ":" + (layer.item ? layer.item.id : "");
        const wrapper = wrapperFor(layer, !seen.has(key));
        seen.add(key);
        wrapper.appendChild(node);
        node = wrapper;
      }
      fragment.appendChild(node);
    }
    return fragment;
  }

  function renderStripes(seg) {
    const box = seg.stripesEl;
    box.textContent = "";
    const byCode = new Map();
    const items = itemsOf(seg);
    for (const coding of items.codings) {
      const entry = byCode.get(coding.code) || { coders: new Set(), suggested: false };
      entry.coders.add(coding.coder || "");
      byCode.set(coding.code, entry);
    }
    for (const s of items.suggestions) {
      if (!byCode.has(s.code)) byCode.set(s.code, { coders: new Set(), suggested: true });
    }
    const codes = Array.from(byCode.keys()).sort((a, b) => codeOf(a).position - codeOf(b).position);
    for (const id of codes) {
      const entry = byCode.get(id);
      const code = codeOf(id);
      const stripe = el("span", "stripe" + (entry.suggested ? " suggested" : ""));
      stripe.dataset.code = id;
      stripe.style.setProperty("--code", code.color);
      stripe.appendChild(el("span", "stripe-label", code.label));
      stripe.title = code.label + (entry.suggested ? " (suggested)" : " · " + Array.from(entry.coders).join(", "));
      box.appendChild(stripe);
    }
    seg.stripesPlaced = false;
    if (seg.visible) placeStripes(seg);
  }

  // Each stripe runs beside the lines its code covers (as NVivo's coding stripes do). This needs
  // layout, so it is done for the segments on screen only (an IntersectionObserver).
  function placeStripes(seg) {
    if (seg.stripesPlaced) return;
    seg.stripesPlaced = true;
    const base = seg.stripesEl.getBoundingClientRect();
    const whole = seg.textEl.getBoundingClientRect();
    for (const stripe of seg.stripesEl.children) {
      const code = stripe.dataset.code;
      let top = Infinity;
      let bottom = -Infinity;
      if (stripe.classList.contains("suggested")) {
        top = whole.top; // a suggestion is for its whole span (the segment)
        bottom = whole.bottom;
      } else {
        for (const mark of seg.textEl.querySelectorAll("mark.coding")) {
          if (mark.dataset.code !== code) continue;
          for (const rect of mark.getClientRects()) {
            top = Math.min(top, rect.top);
            bottom = Math.max(bottom, rect.bottom);
          }
        }
      }
      if (top === Infinity) continue;
      const height = Math.max(8, bottom - top);
      stripe.style.top = Math.max(0, top - base.top) + "px";
      stripe.style.height = height + "px";
      stripe.classList.toggle("short", height < 64);
    }
  }

  const watcher =
    "IntersectionObserver" in window
      ? new IntersectionObserver(
          (entries) => {
            for (const entry of entries) {
              const seg = entry.target.segment;
              seg.visible = entry.isIntersecting;
              if (seg.visible) placeStripes(seg);
            }
          },
          { rootMargin: "400px 0px" },
        )
      : null;

  function renderSegment(seg) {
    seg.bucket = null;
    seg.textEl.textContent = "";
    seg.textEl.appendChild(renderText(seg));
    renderStripes(seg);
  }

  function rerender(spans) {
    const done = new Set();
    for (const span of spans) {
      if (!span) continue;
      for (const seg of segmentsOverlapping(span.start, span.end)) {
        if (done.has(seg)) continue;
        done.add(seg);
        renderSegment(seg);
      }
    }
  }

  function timeLabel(seg) {
    if (!seg.time_start && !seg.time_end) return "";
    return (seg.time_start || "") + (seg.time_end ? "–" + seg.time_end : "");
  }

  function renderDocument() {
    const root = document.getElementById("doc-text");
    const fragment = document.createDocumentFragment();
    const at = O.walker(state.text);
    bucketAll();
    for (const seg of state.segments) {
      seg.string = state.text.slice(at(seg.start), at(seg.end));
      const box = el("div", "segment");
      box.dataset.segmentId = seg.id;
      box.dataset.start = seg.start;
      box.dataset.end = seg.end;
      box.segment = seg;
      const head = el("div", "seg-head");
      if (seg.speaker) head.appendChild(el("span", "speaker", seg.speaker));
      if (seg.role && seg.role !== seg.speaker) head.appendChild(el("span", "role", seg.role));
      const time = timeLabel(seg);
      if (time) head.appendChild(el("span", "time", time));
      box.appendChild(head);
      seg.textEl = el("div", "seg-text");
      seg.textEl.appendChild(renderText(seg));
      box.appendChild(seg.textEl);
      seg.stripesEl = el("div", "stripes");
      seg.stripesEl.setAttribute("aria-hidden", "true");
      box.appendChild(seg.stripesEl);
      renderStripes(seg);
      seg.el = box;
      fragment.appendChild(box);
    }
    root.textContent = "";
    root.appendChild(fragment);
    if (watcher) for (const seg of state.segments) watcher.observe(seg.el);
  }

  // ---- from a selection to a span of code points ----------------------------------------

  // The code point offset in the source of a DOM point (node, offset). A point outside a
  // segment's text (a header, the margin, between segments) snaps to the nearest text in the
  // selection's direction: a start to the next text's start, an end to the previous text's end.
  function offsetOf(node, offset, isEnd) {
    const start = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
    const textEl = start && start.closest(".seg-text");
    if (textEl) {
      const seg = textEl.parentElement.segment;
      const range = document.createRange();
      range.setStart(textEl, 0);
      range.setEnd(node, offset);
      return seg.start + O.toCodePoints(seg.string, range.toString().length);
    }
    const segs = state.segments;
    const probe = document.createRange();
    const side = (i) => {
      probe.selectNodeContents(segs[i].textEl);
      return probe.comparePoint(node, offset); // -1 before the text, 1 after
    };
    // the first segment whose text is not before the point
    let lo = 0;
    let hi = segs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (side(mid) > 0) lo = mid + 1;
      else hi = mid;
    }
    if (isEnd) return lo > 0 ? segs[lo - 1].end : null;
    return lo < segs.length ? segs[lo].start : null;
  }

  function selectedSpan() {
    const selection = window.getSelection();
    if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return null;
    const range = selection.getRangeAt(0);
    const root = document.getElementById("doc-text");
    if (!root.contains(range.commonAncestorContainer) && !range.intersectsNode(root)) return null;
    const start = offsetOf(range.startContainer, range.startOffset, false);
    const end = offsetOf(range.endContainer, range.endOffset, true);
    if (start === null || end === null || start >= end) return null;
    return { start, end };
  }

  // ---- writes, each one an entry for undo ---------------------------------------------------

  // What tests and the benchmark read: when the page was ready, how many writes finished.
  const progress = { readyMs: null, scriptMs: null, writes: 0, busy: false, lastError: null, lastWriteMs: null };
  window.qualkamDocument = progress;

  async function write(label, work) {
    if (state.busy) return null;
    state.busy = progress.busy = true;
    progress.lastError = null;
    const began = performance.now();
    status("saving…", "busy");
    try {
      const result = await work();
      status("saved", "ok");
      progress.lastWriteMs = performance.now() - began; // the round trip: request, store, re-render
      const box = document.getElementById("status");
      if (box) box.title = label || "";
      return result === undefined ? true : result;
    } catch (error) {
      status("not saved: " + error.message, "error");
      progress.lastError = error.message;
      return null;
    } finally {
      state.busy = progress.busy = false;
      progress.writes += 1;
      updateButtons();
    }
  }

  async function postCoding(span, code, memo) {
    const body = { source: state.source, start: span.start, end: span.end, code, coder: state.coder };
    if (memo) body.memo = memo;
    const answer = await call("POST", "/api/codings", body);
    const coding = Object.assign({ coder: state.coder, code, start: span.start, end: span.end }, answer.coding || {});
    coding.id = answer.id;
    state.codings.set(coding.id, coding);
    rerender([coding]);
    return { answer, coding };
  }

  async function deleteCoding(id) {
    const answer = await call("DELETE", withCoder("/api/codings/" + id));
    const removed = answer.removed || {};
    const row = state.codings.get(id) || {
      id,
      start: removed.start,
      end: removed.end,
      code: removed.code || removed.code_id,
      coder: removed.coder,
      memo: removed.memo,
    };
    state.codings.delete(id);
    rerender([row]);
    return row;
  }

  async function applyCode(span, code) {
    if (!span || !code) return;
    clearPending();
    window.getSelection().removeAllRanges();
    remember(code);
    await write("coded " + codeOf(code).label, async () => {
      const { answer, coding } = await postCoding(span, code);
      if (answer.change !== "unchanged") pushAction({ type: "code", coding });
    });
  }

  async function removeCoding(id) {
    await write("removed", async () => {
      const row = await deleteCoding(id);
      pushAction({ type: "remove", coding: row });
    });
    closePopover();
  }

  async function saveMemo(id, memo) {
    const before = state.codings.get(id);
    const old = before ? before.memo || "" : "";
    await write("memo saved", async () => {
      await patchMemo(id, memo);
      pushAction({ type: "memo", id, before: old, after: memo });
    });
  }

  async function patchMemo(id, memo) {
    const answer = await call("PATCH", "/api/codings/" + id, { memo, coder: state.coder });
    const coding = Object.assign({}, state.codings.get(id) || {}, answer.coding || {}, { memo });
    coding.id = id;
    state.codings.set(id, coding);
    rerender([coding]);
  }

  async function decide(id, action) {
    const s = state.suggestions.get(id);
    if (!s) return;
    const next = neighbour(id, 1);
    await write(action === "accept" ? "accepted" : "rejected", async () => {
      const decision = await sendDecision(s, action);
      pushAction({ type: action, suggestion: s, decision });
    });
    closePopover();
    if (next !== null && state.suggestions.has(next)) focusSuggestion(next);
  }

  async function sendDecision(s, action) {
    const answer = await call("POST", "/api/suggestions/" + s.id + "/" + action, { coder: state.coder });
    state.suggestions.delete(s.id);
    if (state.current === s.id) state.current = null;
    if (action === "accept" && answer.coding) {
      const coding = Object.assign({}, answer.coding, { id: answer.id });
      state.codings.set(coding.id, coding);
      rerender([s, coding]);
    } else rerender([s]);
    return answer.id;
  }

  async function undoDecision(entry) {
    const id = resolve(entry.decision);
    const removed = state.codings.get(id);
    await call("DELETE", withCoder("/api/codings/" + id));
    state.codings.delete(id);
    state.suggestions.set(entry.suggestion.id, entry.suggestion);
    rerender([entry.suggestion, removed]);
  }

  function pushAction(entry) {
    state.undo.push(entry);
    if (state.undo.length > 200) state.undo.shift();
    state.redo = [];
    updateButtons();
  }

  // Undo and redo are real writes through the API, so the audit trail records each one.
  async function undo() {
    const entry = state.undo[state.undo.length - 1];
    if (!entry || state.busy) return;
    const done = await write("undone", async () => {
      if (entry.type === "code") {
        await deleteCoding(resolve(entry.coding.id));
      } else if (entry.type === "remove") {
        const old = entry.coding.id;
        const { coding } = await postCoding(entry.coding, entry.coding.code, entry.coding.memo);
        state.renamed.set(old, coding.id);
        entry.coding = coding;
      } else if (entry.type === "memo") {
        await patchMemo(resolve(entry.id), entry.before);
      } else {
        await undoDecision(entry);
      }
      return true;
    });
    if (done) state.redo.push(state.undo.pop());
    updateButtons();
  }

  async function redo() {
    const entry = state.redo[state.redo.length - 1];
    if (!entry || state.busy) return;
    const done = await write("redone", async () => {
      if (entry.type === "code") {
        const old = resolve(entry.coding.id);
        const { coding } = await postCoding(entry.coding, entry.coding.code, entry.coding.memo);
        state.renamed.set(old, coding.id);
        entry.coding = coding;
      } else if (entry.type === "remove") {
        await deleteCoding(resolve(entry.coding.id));
      } else if (entry.type === "memo") {
        await patchMemo(resolve(entry.id), entry.after);
      } else {
        const old = resolve(entry.decision);
        const id = await sendDecision(entry.suggestion, entry.type);
        state.renamed.set(old, id);
        entry.decision = id;
      }
      return true;
    });
    if (done) state.undo.push(state.redo.pop());
    updateButtons();
  }

  function updateButtons() {
    const u = document.getElementById("undo");
    const r = document.getElementById("redo");
    if (u) u.disabled = !state.undo.length;
    if (r) r.disabled = !state.redo.length;
  }

  // ---- recent codes and the picker ----------------------------------------------------------

  function recent() {
    try {
      const list = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
      return Array.isArray(list) ? list.filter((id) => state.codes.has(id)).slice(0, 9) : [];
    } catch (e) {
      return [];
    }
  }

  function remember(code) {
    const list = [code].concat(recent().filter((id) => id !== code)).slice(0, 9);
    localStorage.setItem(RECENT_KEY, JSON.stringify(list));
    renderRecent();
  }

  function swatch(code) {
    const dot = el("span", "swatch");
    dot.style.setProperty("--code", code.color);
    return dot;
  }

  function renderRecent() {
    const bar = document.getElementById("recent-codes");
    if (!bar) return;
    bar.textContent = "";
    const list = recent();
    if (!list.length) {
      bar.appendChild(el("span", "hint", "Select text, then press c (or Enter) to pick a code; 1–9 repeat a recent code."));
      return;
    }
    list.forEach((id, i) => {
      const code = codeOf(id);
      const button = el("button", "recent-code");
      button.type = "button";
      button.dataset.code = id;
      button.appendChild(el("kbd", "", String(i + 1)));
      button.appendChild(swatch(code));
      button.appendChild(document.createTextNode(code.label));
      button.title = code.id + (code.definition ? ": " + code.definition : "");
      button.addEventListener("mousedown", (event) => event.preventDefault()); // keep the selection
      button.addEventListener("click", () => applyCode(state.pending || selectedSpan(), id));
      bar.appendChild(button);
    });
  }

  const picker = {
    active: 0,
    shown: [],
    open(span) {
      state.pending = span;
      rerender([span]);
      const box = document.getElementById("code-picker");
      const search = document.getElementById("code-search");
      const pendingEl = document.querySelector("#doc-text span.pending");
      const rect = pendingEl ? pendingEl.getBoundingClientRect() : { left: 40, bottom: 80 };
      box.hidden = false;
      const width = box.offsetWidth || 360;
      box.style.left = Math.max(8, Math.min(rect.left, window.innerWidth - width - 8)) + "px";
      const below = rect.bottom + 6;
      const height = box.offsetHeight || 300;
      box.style.top = (below + height > window.innerHeight ? Math.max(8, rect.top - height - 6) : below) + "px";
      search.value = "";
      this.filter("");
      search.focus();
    },
    close() {
      const box = document.getElementById("code-picker");
      if (box) box.hidden = true;
      clearPending();
    },
    filter(query) {
      const words = query.toLowerCase().split(/\s+/).filter(Boolean);
      const list = document.getElementById("code-options");
      list.textContent = "";
      const recents = recent();
      this.shown = state.codeOrder.filter((id) => {
        if (!words.length) return true;
        const code = codeOf(id);
        const hay = (code.label + " " + code.id + " " + (code.definition || "")).toLowerCase();
        return words.every((w) => hay.includes(w));
      });
      if (!words.length) this.shown = recents.concat(this.shown.filter((id) => !recents.includes(id)));
      this.shown.forEach((id, i) => {
        const code = codeOf(id);
        const item = el("li", "code-option");
        item.dataset.code = id;
        item.setAttribute("role", "option");
        item.style.paddingLeft = (words.length ? 0.5 : 0.5 + 1.1 * code.depth) + "em";
        const place = recents.indexOf(id);
        if (!words.length && place >= 0) item.appendChild(el("kbd", "", String(place + 1)));
        item.appendChild(swatch(code));
        item.appendChild(el("span", "code-label", code.label));
        item.appendChild(el("span", "code-id", code.id));
        if (code.definition) {
          const definition = el("div", "code-definition", code.definition);
          definition.title = code.definition;
          item.appendChild(definition);
        }
        item.addEventListener("mousedown", (event) => event.preventDefault());
        item.addEventListener("click", () => this.pick(id));
        if (!words.length && place >= 0 && i === recents.length - 1) item.classList.add("last-recent");
        list.appendChild(item);
      });
      if (!this.shown.length) list.appendChild(el("li", "empty", "No code matches."));
      this.move(0, true);
    },
    move(to, absolute) {
      const items = document.querySelectorAll("#code-options .code-option");
      if (!items.length) return;
      this.active = absolute ? to : Math.max(0, Math.min(items.length - 1, this.active + to));
      items.forEach((item, i) => item.classList.toggle("active", i === this.active));
      items[this.active].scrollIntoView({ block: "nearest" });
    },
    pick(id) {
      const span = state.pending;
      document.getElementById("code-picker").hidden = true;
      applyCode(span, id);
    },
  };

  function clearPending() {
    if (!state.pending) return;
    const span = state.pending;
    state.pending = null;
    rerender([span]);
  }

  // ---- suggestions: j/k, a/r ----------------------------------------------------------------

  function orderedSuggestions() {
    return Array.from(state.suggestions.values()).sort((a, b) => a.start - b.start || a.id - b.id);
  }

  function neighbour(id, step) {
    const list = orderedSuggestions();
    if (!list.length) return null;
    const i = list.findIndex((s) => s.id === id);
    if (i < 0) return list[step > 0 ? 0 : list.length - 1].id;
    const j = i + step;
    return j >= 0 && j < list.length ? list[j].id : null;
  }

  function focusSuggestion(id) {
    document.querySelectorAll("#doc-text span.suggestion.current").forEach((node) => node.classList.remove("current"));
    state.current = id;
    if (id === null) return;
    const pieces = document.querySelectorAll('#doc-text span.suggestion[data-suggestion-id="' + id + '"]');
    pieces.forEach((node) => node.classList.add("current"));
    if (pieces.length) {
      pieces[0].focus({ preventScroll: true });
      pieces[0].scrollIntoView({ block: "center" });
    }
  }

  function chosenSuggestion() {
    const active = document.activeElement;
    const focused = active && active.closest ? active.closest("#doc-text span.suggestion") : null;
    if (focused) return Number(focused.dataset.suggestionId);
    return state.current !== null && state.suggestions.has(state.current) ? state.current : null;
  }

  // ---- the popover on a coded span or a suggestion ------------------------------------------

  function closePopover() {
    const box = document.getElementById("popover");
    if (box) box.hidden = true;
  }

  function openPopover(target, x, y) {
    const box = document.getElementById("popover");
    box.textContent = "";
    const codings = [];
    const suggestions = [];
    for (let node = target; node && node.id !== "doc-text"; node = node.parentElement) {
      if (node.matches("mark.coding")) codings.push(state.codings.get(Number(node.dataset.codingId)));
      if (node.matches("span.suggestion")) suggestions.push(state.suggestions.get(Number(node.dataset.suggestionId)));
    }
    for (const coding of codings.filter(Boolean)) box.appendChild(codingCard(coding));
    for (const s of suggestions.filter(Boolean)) box.appendChild(suggestionCard(s));
    if (!box.children.length) return;
    const close = el("button", "close", "×");
    close.type = "button";
    close.title = "Close (Esc)";
    close.addEventListener("click", closePopover);
    box.prepend(close);
    box.hidden = false;
    const width = box.offsetWidth;
    const height = box.offsetHeight;
    box.style.left = Math.max(8, Math.min(x, window.innerWidth - width - 8)) + "px";
    box.style.top = (y + 12 + height > window.innerHeight ? Math.max(8, y - height - 12) : y + 12) + "px";
  }

  function codingCard(coding) {
    const code = codeOf(coding.code);
    const card = el("section", "card coding-card");
    card.dataset.codingId = coding.id;
    const title = el("h3");
    title.appendChild(swatch(code));
    title.appendChild(document.createTextNode(code.label + " "));
    title.appendChild(el("span", "code-id", code.id));
    card.appendChild(title);
    const who = el("p", "meta", "coder: " + (coding.coder || "?") + (coding.status && coding.status !== "accepted" ? " · " + coding.status : ""));
    card.appendChild(who);
    const quote = el("blockquote", "quote", O.slice(state.text, coding.start, coding.end));
    card.appendChild(quote);
    if (mine(coding)) {
      const memo = el("textarea", "memo");
      memo.rows = 3;
      memo.placeholder = "Memo";
      memo.value = coding.memo || "";
      card.appendChild(memo);
      const actions = el("div", "actions");
      const save = el("button", "save-memo", "Save memo");
      save.type = "button";
      save.addEventListener("click", () => saveMemo(coding.id, memo.value));
      const remove = el("button", "remove-coding danger", "Remove coding");
      remove.type = "button";
      remove.addEventListener("click", () => removeCoding(coding.id));
      actions.appendChild(save);
      actions.appendChild(remove);
      card.appendChild(actions);
    } else if (coding.memo) {
      card.appendChild(el("p", "memo-text", coding.memo));
    }
    return card;
  }

  function suggestionCard(s) {
    const code = codeOf(s.code);
    const card = el("section", "card suggestion-card");
    card.dataset.suggestionId = s.id;
    const title = el("h3");
    title.appendChild(swatch(code));
    title.appendChild(document.createTextNode("Suggested: " + code.label + " "));
    title.appendChild(el("span", "code-id", code.id));
    card.appendChild(title);
    card.appendChild(el("p", "meta", "score " + Number(s.score || 0).toFixed(2) + " · " + (s.origin || "machine")));
    if (code.definition) card.appendChild(el("p", "definition", code.definition));
    const list = el("ul", "evidence");
    for (const item of s.evidence || []) list.appendChild(el("li", "", evidenceLine(item)));
    if (list.children.length) card.appendChild(list);
    const actions = el("div", "actions");
    const accept = el("button", "accept", "Accept (a)");
    accept.type = "button";
    accept.addEventListener("click", () => decide(s.id, "accept"));
    const reject = el("button", "reject", "Reject (r)");
    reject.type = "button";
    reject.addEventListener("click", () => decide(s.id, "reject"));
    actions.appendChild(accept);
    actions.appendChild(reject);
    card.appendChild(actions);
    return card;
  }

  // ---- events -------------------------------------------------------------------------------

  function openPickerOnSelection() {
    const span = selectedSpan();
    if (!span) return false;
    closePopover();
    picker.open(span);
    return true;
  }

  // Shift+arrows extend the selection from the caret a click left (Chrome, without caret
  // browsing, does not do it on text that cannot be edited); Ctrl+Shift+arrows by words.
  // Without a caret in the text, the selection starts at the chosen suggestion or the first
  // segment on screen.
  const EXTEND = {
    ArrowRight: ["forward", "character"],
    ArrowLeft: ["backward", "character"],
    ArrowDown: ["forward", "line"],
    ArrowUp: ["backward", "line"],
    End: ["forward", "lineboundary"],
    Home: ["backward", "lineboundary"],
  };

  function caretStart() {
    const chosen = chosenSuggestion();
    const piece = chosen !== null ? document.querySelector('#doc-text span.suggestion[data-suggestion-id="' + chosen + '"]') : null;
    if (piece) return piece.firstChild;
    const seg = state.segments.find((s) => s.el.getBoundingClientRect().bottom > 80) || state.segments[0];
    if (!seg) return null;
    const walker = document.createTreeWalker(seg.textEl, NodeFilter.SHOW_TEXT);
    return walker.nextNode();
  }

  function extendSelection(event) {
    const how = EXTEND[event.key];
    if (!how || !event.shiftKey || event.altKey) return false;
    const selection = window.getSelection();
    const root = document.getElementById("doc-text");
    const inside = selection.rangeCount > 0 && root.contains(selection.focusNode);
    if (!inside) {
      const node = caretStart();
      if (!node) return false;
      selection.collapse(node, 0);
    }
    const granularity = (event.ctrlKey || event.metaKey) && how[1] === "character" ? "word" : how[1];
    selection.modify("extend", how[0], granularity);
    event.preventDefault();
    return true;
  }

  function onKey(event) {
    const box = document.getElementById("code-picker");
    if (!box.hidden) return; // the picker's own handler
    if (typing(event)) return;
    if (extendSelection(event)) return;
    const key = event.key;
    const ctrl = event.ctrlKey || event.metaKey;
    if (ctrl && !event.altKey && (key === "z" || key === "Z")) {
      event.preventDefault();
      if (event.shiftKey) redo();
      else undo();
      return;
    }
    if (ctrl && !event.altKey && (key === "y" || key === "Y")) {
      event.preventDefault();
      redo();
      return;
    }
    if (ctrl || event.altKey) return;
    if (key === "Escape") {
      closePopover();
      window.getSelection().removeAllRanges();
      return;
    }
    if ((key === "c" || key === "Enter") && selectedSpan()) {
      event.preventDefault();
      openPickerOnSelection();
      return;
    }
    if (key === "Enter" && chosenSuggestion() !== null) {
      // the chosen suggestion's card: its evidence, Accept and Reject
      event.preventDefault();
      const piece = document.querySelector('#doc-text span.suggestion[data-suggestion-id="' + chosenSuggestion() + '"]');
      if (piece) {
        const rect = piece.getBoundingClientRect();
        openPopover(piece, rect.left, rect.bottom);
      }
      return;
    }
    if (/^[1-9]$/.test(key)) {
      const span = selectedSpan();
      const code = recent()[Number(key) - 1];
      if (span && code) {
        event.preventDefault();
        applyCode(span, code);
      }
      return;
    }
    if (key === "j" || key === "k") {
      event.preventDefault();
      const from = chosenSuggestion();
      const next = neighbour(from, key === "j" ? 1 : -1);
      if (next !== null) focusSuggestion(next);
      return;
    }
    if (key === "a" || key === "r") {
      const id = chosenSuggestion();
      if (id !== null) {
        event.preventDefault();
        decide(id, key === "a" ? "accept" : "reject");
      }
    }
  }

  function onPickerKey(event) {
    const key = event.key;
    const search = document.getElementById("code-search");
    if (key === "Escape") {
      event.preventDefault();
      picker.close();
      return;
    }
    if (key === "ArrowDown" || key === "ArrowUp") {
      event.preventDefault();
      picker.move(key === "ArrowDown" ? 1 : -1);
      return;
    }
    if (key === "Enter") {
      event.preventDefault();
      const id = picker.shown[picker.active];
      if (id) picker.pick(id);
      return;
    }
    if (/^[1-9]$/.test(key) && !search.value) {
      const id = recent()[Number(key) - 1];
      if (id) {
        event.preventDefault();
        picker.pick(id);
      }
    }
  }

  function bind() {
    document.addEventListener("keydown", onKey);
    const search = document.getElementById("code-search");
    search.addEventListener("keydown", onPickerKey);
    search.addEventListener("input", () => picker.filter(search.value));
    document.addEventListener("mousedown", (event) => {
      const pickerBox = document.getElementById("code-picker");
      if (!pickerBox.hidden && !pickerBox.contains(event.target)) picker.close();
      const pop = document.getElementById("popover");
      if (!pop.hidden && !pop.contains(event.target)) closePopover();
    });
    const root = document.getElementById("doc-text");
    root.addEventListener("mouseup", (event) => {
      if (event.button !== 0) return;
      // let the browser finish the selection first
      setTimeout(() => {
        if (selectedSpan()) openPickerOnSelection();
      }, 0);
    });
    root.addEventListener("click", (event) => {
      if (!window.getSelection().isCollapsed) return; // the end of a drag, not a click
      const hit = event.target.closest("mark.coding, span.suggestion");
      if (!hit) return;
      const s = event.target.closest("span.suggestion");
      if (s) focusSuggestion(Number(s.dataset.suggestionId));
      openPopover(event.target, event.clientX, event.clientY);
    });
    root.addEventListener("focusin", (event) => {
      const s = event.target.closest && event.target.closest("span.suggestion");
      if (s && state.current !== Number(s.dataset.suggestionId)) {
        document.querySelectorAll("#doc-text span.suggestion.current").forEach((node) => node.classList.remove("current"));
        state.current = Number(s.dataset.suggestionId);
        document
          .querySelectorAll('#doc-text span.suggestion[data-suggestion-id="' + state.current + '"]')
          .forEach((node) => node.classList.add("current"));
      }
    });
    document.getElementById("undo").addEventListener("click", undo);
    document.getElementById("redo").addEventListener("click", redo);
    const pick = document.getElementById("pick-code");
    if (pick) {
      pick.addEventListener("mousedown", (event) => event.preventDefault());
      pick.addEventListener("click", () => {
        if (!openPickerOnSelection()) status("select some text first", "error");
      });
    }
    let resizing = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => {
        for (const seg of state.segments) {
          seg.stripesPlaced = false;
          if (seg.visible) placeStripes(seg);
        }
      }, 100);
    });
  }

  // ---- start --------------------------------------------------------------------------------

  function loadCodes(codes) {
    const children = new Map();
    for (const code of codes) {
      const parent = code.parent || "";
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(code);
    }
    const known = new Set(codes.map((c) => c.id));
    let position = 0;
    const visit = (parent, depth) => {
      for (const code of children.get(parent) || []) {
        code.depth = depth;
        code.position = position;
        code.color = safeColor(code.color) || PALETTE[position % PALETTE.length];
        position += 1;
        state.codes.set(code.id, code);
        state.codeOrder.push(code.id);
        visit(code.id, depth + 1);
      }
    };
    visit("", 0);
    for (const code of codes) if (!state.codes.has(code.id) && code.parent && !known.has(code.parent)) {
      code.depth = 0;
      code.position = position;
      code.color = safeColor(code.color) || PALETTE[position % PALETTE.length];
      position += 1;
      state.codes.set(code.id, code);
      state.codeOrder.push(code.id);
    }
  }

  function targetFromHash() {
    const match = /^#c-(\d+)-(\d+)$/.exec(location.hash);
    return match ? { start: Number(match[1]), end: Number(match[2]) } : null;
  }

  async function start() {
    const began = performance.now();
    status("loading…", "busy");
    try {
      const session = await call("GET", "/api/session");
      state.blind = !!session.blind;
      state.coder = await findCoder(session);
      const [source, codebook] = await Promise.all([
        call("GET", withCoder("/api/sources/" + quoted(state.source))),
        call("GET", withCoder("/api/codebook")),
      ]);
      progress.fetchedMs = performance.now() - began;
      loadCodes(codebook.codes || []);
      state.text = source.text;
      state.segments = (source.segments || []).slice().sort((a, b) => a.start - b.start);
      for (const coding of source.codings || []) state.codings.set(coding.id, coding);
      for (const s of source.suggestions || []) state.suggestions.set(s.id, s);
      state.target = targetFromHash();
      const title = document.getElementById("doc-title");
      if (title && source.title) title.textContent = source.title;
      const meta = document.getElementById("doc-meta");
      if (meta) {
        const facts = [source.id, source.type, source.phase, source.date, state.segments.length + " segments"];
        meta.textContent = facts.filter(Boolean).join(" · ");
      }
      renderDocument();
      renderRecent();
      bind();
      updateButtons();
      const root = document.getElementById("doc-text");
      root.dataset.ready = "true";
      progress.readyMs = performance.now(); // since navigation started
      progress.scriptMs = progress.readyMs - began; // this script's share: fetches and rendering
      status(state.suggestions.size + " suggestions waiting", "");
      if (state.target) {
        const mark = root.querySelector("span.target");
        if (mark) mark.scrollIntoView({ block: "center" });
      }
    } catch (error) {
      status("could not load: " + error.message, "error");
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
