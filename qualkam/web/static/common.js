/* qualkam workspace: what every page's script shares, as window.qualkam.
 *
 * - token(): the session token from <meta name="qualkam-token"> (the cookie is HttpOnly);
 * - coder(): the session's coder (--coder), else the name this browser gave once
 *   (localStorage "qualkam-coder"), asked for when there is none;
 * - api(method, path, body): fetch with X-Qualkam-Token, the coder added (GET: ?coder=,
 *   writes: "coder" in the JSON body); resolves to the parsed JSON, rejects with an Error whose
 *   .status and .message come from the server's {"error": ...}.
 * Data from the server is never written as HTML here: use textContent.
 */
(function () {
  "use strict";
  var KEY = "qualkam-coder";

  function meta(name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") || "" : "";
  }

  function token() { return meta("qualkam-token"); }
  function sessionCoder() { return meta("qualkam-coder"); }
  function blind() { return meta("qualkam-blind") === "true"; }

  function storedCoder() {
    try { return (window.localStorage.getItem(KEY) || "").trim(); } catch (e) { return ""; }
  }

  function askCoder(force) {
    var name = storedCoder();
    if (name && !force) { return name; }
    var given = window.prompt("Your name as a coder (your codings are saved under it):", name || "");
    given = (given || "").trim();
    if (given) {
      try { window.localStorage.setItem(KEY, given); } catch (e) { /* private mode: ask again next time */ }
      return given;
    }
    return name;
  }

  function coder() { return sessionCoder() || askCoder(false); }

  function withCoder(path) {
    var name = coder();
    if (!name || sessionCoder()) { return path; }
    var url = new URL(path, window.location.origin);
    if (!url.searchParams.has("coder")) { url.searchParams.set("coder", name); }
    return url.pathname + url.search;
  }

  function api(method, path, body) {
    method = (method || "GET").toUpperCase();
    var options = { method: method, headers: { "X-Qualkam-Token": token() }, credentials: "same-origin" };
    if (method === "GET" || method === "DELETE") {
      path = withCoder(path);
    }
    if (body !== undefined && method !== "GET") {
      var payload = Object.assign({}, body);
      if (payload.coder === undefined && coder()) { payload.coder = coder(); }
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(payload);
    }
    return window.fetch(path, options).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!response.ok) {
          var error = new Error((data && data.error) || response.statusText || "request failed");
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  /* A server-rendered page counts for one coder: without a session coder, put the browser's
   * coder in the URL (once) so the counts are theirs. */
  function ensureCoderInUrl() {
    if (sessionCoder()) { return; }
    var url = new URL(window.location.href);
    if (url.searchParams.get("coder")) { return; }
    var name = askCoder(false);
    if (name) {
      url.searchParams.set("coder", name);
      window.location.replace(url.pathname + url.search + url.hash);
    }
  }

  function changeCoder() {
    var name = askCoder(true);
    if (!name) { return; }
    var url = new URL(window.location.href);
    url.searchParams.set("coder", name);
    window.location.assign(url.pathname + url.search + url.hash);
  }

  /* An element with a class and a text: data from the project only ever enters the page as
   * text (never as markup). */
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  /* The page's status line ("saved", or what went wrong). */
  function status(message, kind) {
    var box = document.getElementById("status");
    if (!box) { return; }
    box.textContent = message;
    box.dataset.kind = kind || "";
  }

  /* A source's id is the path of its file in the coded folder: it may hold slashes, spaces and
   * accents, so on a page it is everything after the page's prefix, and each part is quoted in
   * a URL. */
  function fromPath(prefix) {
    var path = window.location.pathname;
    var at = path.indexOf(prefix);
    return at < 0 ? "" : path.slice(at + prefix.length).split("/").map(decodeURIComponent).join("/");
  }

  function quoted(id) {
    return id.split("/").map(encodeURIComponent).join("/");
  }

  /* A code's colour goes into CSS: only a hex colour is taken (never a url() or anything else). */
  function safeColor(color) {
    return typeof color === "string" && /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(color) ? color : null;
  }

  /* Colours for codes the codebook gives none. */
  var PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
    "#bab0ac"];

  window.qualkam = {
    el: el, status: status, fromPath: fromPath, quoted: quoted, safeColor: safeColor, PALETTE: PALETTE,
    token: token, coder: coder, sessionCoder: sessionCoder, blind: blind, askCoder: askCoder,
    withCoder: withCoder, api: api, changeCoder: changeCoder,
    get: function (path) { return api("GET", path); },
    post: function (path, body) { return api("POST", path, body || {}); },
    patch: function (path, body) { return api("PATCH", path, body || {}); },
    del: function (path) { return api("DELETE", path); }
  };

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("change-coder");
    if (button) { button.addEventListener("click", changeCoder); }
    if (!document.body.hasAttribute("data-no-coder-url")) { ensureCoderInUrl(); }
  });
})();
