// Ärendo workspace: live updates (Server-Sent Events), presence, keyboard shortcuts and canned
// responses. Every page works without this file; it only adds to what the server rendered.
(function () {
  "use strict";
  var body = document.body;
  var csrf = body.getAttribute("data-csrf") || "";
  var ticketEl = document.querySelector("[data-ticket]");
  var ticketNo = ticketEl ? ticketEl.getAttribute("data-ticket") : null;
  var status = document.getElementById("live-status");

  function say(text) {
    if (!status) return;
    status.textContent = "";
    window.setTimeout(function () { status.textContent = text; }, 50);
  }
  function post(url, data) {
    var form = new URLSearchParams(data);
    form.set("csrf", csrf);
    return fetch(url, { method: "POST", body: form, credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" } });
  }
  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }
  function text(id) { var el = document.getElementById(id); return el ? el.textContent : ""; }

  // ---- live list updates ----
  var me = body.getAttribute("data-me") || "";
  function listTables() { return Array.prototype.slice.call(document.querySelectorAll("table[data-live-list]")); }
  // On a ticket list (/tickets?…) the server judges the row with the list's own filter: a
  // ticket the list would not show comes back empty (204) and does not join the list.
  function listFilter() {
    if (window.location.pathname !== "/tickets") return "";
    var p = new URLSearchParams(window.location.search);
    p.delete("cursor");
    p.delete("done");
    p.set("list", "1");
    return "?" + p.toString();
  }
  function fetchRow(number) {
    return fetch("/tickets/" + encodeURIComponent(number) + "/row" + listFilter(), { credentials: "same-origin" })
      .then(function (r) { return r.ok && r.status !== 204 ? r.text() : null; })
      .then(function (html) {
        if (!html) return null;
        var t = document.createElement("tbody");
        t.innerHTML = html.trim();
        return t.firstElementChild;
      });
  }
  // Does this table show this row? "mine"/"all" are My work's tables (assigned to me /
  // unassigned, open only); "q" and "q<id>" are ticket lists, which take new arrivals only.
  function belongs(table, row, kind, present) {
    var scope = table.getAttribute("data-live-list");
    var assignee = row.getAttribute("data-assignee") || "";
    var open = /^(new|open|waiting)$/.test(row.getAttribute("data-status") || "");
    // Mitt arbete leaves out what automatic mail opened unless asked to show it (D56).
    if ((scope === "mine" || scope === "all") && row.hasAttribute("data-automatic") && table.hasAttribute("data-hide-automatic")) return false;
    if (scope === "mine") return open && assignee === me;
    if (scope === "all") return open && assignee === "";
    // SLA warnings: rows already there stay up to date while open; new ones come with a reload.
    if (scope === "risk") return open && present;
    var queueOk = scope === "q" || scope === "q" + row.getAttribute("data-queue");
    return queueOk && (present || kind === "created" || kind === "queue_changed");
  }
  function onTicketForList(ev) {
    var tables = listTables();
    if (!tables.length) return;
    fetchRow(ev.number).then(function (row) {
      tables.forEach(function (table) {
        var existing = table.querySelector('tr.ticket-row[data-number="' + ev.number + '"]');
        if (!row || !belongs(table, row, ev.kind, !!existing)) {
          if (existing) existing.remove();
          return;
        }
        var copy = row.cloneNode(true);
        if (existing) {
          // An update of a row the agent already has: it is only "new" if it was already marked
          // so (it arrived live a moment ago); keep the selection.
          if (!existing.querySelector(".badge-new")) {
            copy.classList.remove("fresh");
            var badge = copy.querySelector(".badge-new");
            if (badge) badge.remove();
          }
          var box = existing.querySelector("input[type=checkbox]");
          if (box && box.checked) copy.querySelector("input[type=checkbox]").checked = true;
          existing.replaceWith(copy);
        } else {
          // Insert at the top; scroll anchoring keeps what the agent is reading where it is.
          table.tBodies[0].insertBefore(copy, table.tBodies[0].firstChild);
          var link = copy.querySelector(".row-link");
          if (link) say(link.textContent);
        }
      });
    });
  }

  // ---- live ticket view ----
  var conversation = document.getElementById("conversation");
  var replyBody = document.getElementById("reply-body");
  var replySeen = document.getElementById("reply-seen");
  var draftStarted = false;
  function appendMessages() {
    var last = conversation.getAttribute("data-last") || "0";
    return fetch("/tickets/" + encodeURIComponent(ticketNo) + "/messages?after=" + last, { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) return;
        var newLast = r.headers.get("X-Last-Message-Id");
        return r.text().then(function (html) {
          if (!html.trim()) return;
          var box = document.createElement("div");
          box.innerHTML = html;
          var inbound = false;
          while (box.firstElementChild) {
            var m = box.firstElementChild;
            if (m.classList.contains("msg-inbound")) inbound = true;
            conversation.appendChild(m);
          }
          if (newLast) conversation.setAttribute("data-last", newLast);
          if (inbound) {
            var note = document.getElementById("new-message");
            if (note) note.hidden = false;
            if (draftStarted && replyBody && replyBody.value.trim()) {
              var w = document.getElementById("stale-live");
              if (w) w.hidden = false;
            }
          }
        });
      });
  }
  // Every change to the open ticket arrives live: new messages are appended (whatever made
  // them: mail, the status page, a colleague), and the parts that show the ticket's state
  // (header, properties, tags, links, referrals, contact, history) are replaced with the server's
  // current rendering — except a part the agent is editing; then "changed, reload" shows (the
  // reply draft survives the reload, see below).
  var refreshing = null;
  function refreshParts() {
    if (refreshing) return refreshing;
    refreshing = fetch("/tickets/" + encodeURIComponent(ticketNo), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        refreshing = null;
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var stale = false;
        Array.prototype.forEach.call(document.querySelectorAll("[data-live-part]"), function (part) {
          var fresh = doc.getElementById(part.id);
          if (!fresh || fresh.innerHTML === part.innerHTML) return;
          if (part.contains(document.activeElement) || part.hasAttribute("data-dirty")) { stale = true; return; }
          part.replaceWith(document.importNode(fresh, true));
        });
        if (stale) {
          var changed = document.getElementById("changed");
          if (changed) changed.hidden = false;
        }
      }, function () { refreshing = null; });
    return refreshing;
  }
  document.addEventListener("input", function (e) {
    var part = e.target.closest && e.target.closest("[data-live-part]");
    if (part) part.setAttribute("data-dirty", "1");
  });
  document.addEventListener("change", function (e) {
    var part = e.target.closest && e.target.closest("[data-live-part]");
    if (part) part.setAttribute("data-dirty", "1");
  });
  function onTicketForView(ev) {
    if (ev.number !== ticketNo) return;
    if (ev.kind === "presence") return;
    appendMessages();
    refreshParts();
  }
  var writers = {};
  function showWriters() {
    var el = document.getElementById("writers");
    if (!el) return;
    var names = Object.keys(writers).map(function (k) { return writers[k]; });
    var tpl = el.getAttribute("data-template") || "";
    el.textContent = names.map(function (n) { return tpl.replace("{name}", n); }).join(" ");
  }

  // ---- the event stream ----
  if (window.EventSource && (ticketNo || listTables().length)) {
    var es = new EventSource("/live");
    es.addEventListener("ticket", function (e) {
      var ev = JSON.parse(e.data);
      if (ticketNo) onTicketForView(ev); else onTicketForList(ev);
    });
    es.addEventListener("presence", function (e) {
      var ev = JSON.parse(e.data);
      if (!ticketNo || ev.number !== ticketNo) return;
      if (ev.writing) writers[ev.user] = ev.name; else delete writers[ev.user];
      showWriters();
    });
    es.addEventListener("resync", function () {
      if (ticketNo) { appendMessages(); refreshParts(); }
    });
  }

  // ---- the reply draft survives reloads ----
  // Kept in this browser per municipality and ticket while it is unsent; cleared once the server
  // says it was sent (the page after sending carries ?ok=…).
  if (ticketNo && replyBody && window.localStorage) {
    var draftKey = "arendo.draft." + (ticketEl.getAttribute("data-tenant") || "") + "." + ticketNo;
    var params = new URLSearchParams(window.location.search);
    var sentOk = /^(reply_sent|note_added|sent_and_status)$/.test(params.get("ok") || "");
    var saveDraft = function () {
      try {
        if (replyBody.value.trim()) {
          var note = document.getElementById("kind-note");
          localStorage.setItem(draftKey, JSON.stringify({ text: replyBody.value, note: !!(note && note.checked) }));
        } else {
          localStorage.removeItem(draftKey);
        }
      } catch (e) { /* storage full or off: the draft just is not kept */ }
    };
    try {
      if (sentOk) {
        localStorage.removeItem(draftKey);
        // A reload of this page must not clear a draft written after sending.
        params.delete("ok");
        var rest = params.toString();
        window.history.replaceState(null, "", window.location.pathname + (rest ? "?" + rest : "") + window.location.hash);
      } else if (replyBody.value.trim()) {
        saveDraft(); // the server gave the draft back (refused or stale): keep that one
      } else {
        var kept = JSON.parse(localStorage.getItem(draftKey) || "null");
        if (kept && kept.text) {
          replyBody.value = kept.text;
          var kindEl = document.getElementById(kept.note ? "kind-note" : "kind-reply");
          if (kindEl && !kindEl.disabled) kindEl.checked = true;
        }
      }
    } catch (e) { /* ignore unreadable storage */ }
    replyBody.addEventListener("input", saveDraft);
    Array.prototype.forEach.call(document.querySelectorAll('input[name="kind"]'), function (r) {
      r.addEventListener("change", saveDraft);
    });
  }

  // ---- presence: "NN is writing a reply" ----
  if (ticketNo && replyBody) {
    var beat = null;
    var writersEl = document.getElementById("writers");
    if (writersEl && !writersEl.getAttribute("data-template")) {
      writersEl.setAttribute("data-template", writersEl.getAttribute("data-writing") || "");
    }
    var presenceUrl = "/tickets/" + encodeURIComponent(ticketNo) + "/presence";
    var start = function () {
      if (!draftStarted) {
        draftStarted = true;
        // What the agent has seen when starting to write: the server refuses a reply when a
        // citizen message arrived after this (the agent then sees it and decides).
        if (replySeen) replySeen.value = conversation.getAttribute("data-last") || replySeen.value;
      }
      if (beat) return;
      post(presenceUrl, { writing: "1" });
      beat = window.setInterval(function () { post(presenceUrl, { writing: "1" }); }, 10000);
    };
    var stop = function () {
      if (!beat) return;
      window.clearInterval(beat);
      beat = null;
      post(presenceUrl, { writing: "0" });
    };
    replyBody.addEventListener("input", start);
    replyBody.addEventListener("focus", function () { if (replyBody.value.trim()) start(); });
    replyBody.addEventListener("blur", function () { if (!replyBody.value.trim()) stop(); });
    window.addEventListener("pagehide", stop);
    document.getElementById("reply-form").addEventListener("submit", function () {
      if (beat) { window.clearInterval(beat); beat = null; }
    });
    replyBody.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        document.getElementById("reply-form").requestSubmit();
      }
    });
  }

  // ---- canned responses ----
  var cannedBox = document.querySelector(".canned[data-js]");
  if (cannedBox && ticketNo && replyBody) {
    cannedBox.hidden = false;
    document.getElementById("canned-insert").addEventListener("click", function () {
      var id = document.getElementById("canned").value;
      if (!id) return;
      fetch("/tickets/" + encodeURIComponent(ticketNo) + "/canned/" + id, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : ""; })
        .then(insertIntoReply);
    });
  }

  // Put text where the cursor is in the reply box (at the end if it was never focused).
  function insertIntoReply(t) {
    if (!t || !replyBody) return;
    var at = replyBody.selectionStart || replyBody.value.length;
    var before = replyBody.value.slice(0, at);
    var sep = before && !/\n\n$/.test(before) ? (/\n$/.test(before) ? "\n" : "\n\n") : "";
    replyBody.value = before + sep + t + replyBody.value.slice(at);
    replyBody.focus();
    replyBody.dispatchEvent(new Event("input"));
  }

  // ---- knowledge base: "insert into reply" ----
  // Without JavaScript the link reloads the ticket with the article's text as the draft; with it
  // the text goes in where the cursor is, and the reply remembers the article it was written from.
  if (ticketNo && replyBody) {
    Array.prototype.forEach.call(document.querySelectorAll("a.kb-insert[data-kb], a.kb-insert-full[data-kb]"), function (a) {
      a.addEventListener("click", function (e) {
        e.preventDefault();
        var id = a.getAttribute("data-kb");
        var full = a.getAttribute("data-full") ? "?full=true" : "";
        fetch("/tickets/" + encodeURIComponent(ticketNo) + "/kb/" + encodeURIComponent(id) + full, { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : ""; })
          .then(function (t) {
            if (!t) return;
            insertIntoReply(t);
            var form = document.getElementById("reply-form");
            if (form && !form.querySelector('input[name="kb_article"][value="' + id + '"]')) {
              var h = document.createElement("input");
              h.type = "hidden";
              h.name = "kb_article";
              h.value = id;
              form.appendChild(h);
            }
          });
      });
    });
  }

  // ---- keyboard shortcuts ----
  var current = -1;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr.ticket-row")); }
  function mark(i) {
    var all = rows();
    if (!all.length) return;
    current = Math.max(0, Math.min(all.length - 1, i));
    all.forEach(function (r) { r.classList.remove("current"); });
    var r = all[current];
    r.classList.add("current");
    var link = r.querySelector(".row-link");
    if (link) link.focus();
  }
  var pendingG = false;
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var help = document.getElementById("help");
    if (typing(document.activeElement)) {
      if (e.key === "Escape") document.activeElement.blur();
      return;
    }
    if (pendingG) {
      pendingG = false;
      if (e.key === "w") { window.location.href = "/"; e.preventDefault(); }
      if (e.key === "q") { window.location.href = "/queues"; e.preventDefault(); }
      if (e.key === "t") { window.location.href = "/tickets"; e.preventDefault(); }
      return;
    }
    switch (e.key) {
      case "j": mark(current + 1); e.preventDefault(); break;
      case "k": mark(current - 1); e.preventDefault(); break;
      case "g": pendingG = true; break;
      case "/": {
        var q = document.getElementById("q-main") || document.getElementById("q-top");
        if (q) { q.focus(); e.preventDefault(); }
        break;
      }
      case "?": if (help && help.showModal) { help.showModal(); e.preventDefault(); } break;
      case "r": case "n": {
        // Off the ticket page, "n" registers a new ticket (a call, a visit, a letter).
        if (!replyBody && e.key === "n") { window.location.href = "/tickets/new"; e.preventDefault(); break; }
        if (!replyBody) break;
        var kind = document.getElementById(e.key === "r" ? "kind-reply" : "kind-note");
        if (kind && !kind.disabled) kind.checked = true;
        replyBody.focus();
        e.preventDefault();
        break;
      }
      case "a": {
        var claim = document.getElementById("claim-form");
        if (claim) { claim.requestSubmit(); e.preventDefault(); }
        break;
      }
    }
  });
})();
