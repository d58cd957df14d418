// "Nytt ärende": the contact combobox (WAI-ARIA combobox with a listbox popup), Ctrl+Enter to
// register, and "Besvarat direkt" / "Skicka bekräftelse" kept apart. The form works without it
// (a new contact is typed into the fields below the search).
(function () {
  "use strict";
  var form = document.getElementById("new-ticket-form");
  if (!form) return;

  form.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      form.requestSubmit();
    }
  });

  var answered = document.getElementById("nt-answered");
  var ack = document.getElementById("nt-ack");
  function outcome() { ack.disabled = answered.checked; if (answered.checked) ack.checked = false; }
  answered.addEventListener("change", outcome);
  outcome();

  var box = form.querySelector(".combo[data-js]");
  var input = document.getElementById("nt-contact-search");
  var list = document.getElementById("nt-contact-list");
  var status = document.getElementById("nt-contact-status");
  var idField = document.getElementById("nt-contact-id");
  var labelField = document.getElementById("nt-contact-label");
  var fresh = document.getElementById("nt-new-contact");
  if (!box || !input) return;
  box.hidden = false;
  var options = [];
  var active = -1;
  var timer = null;
  var asked = "";

  function label(c) {
    return [c.name, c.email, c.phone].filter(function (x) { return x; }).join(" · ");
  }
  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }
  function chosen() {
    var has = !!idField.value;
    fresh.hidden = has;
  }
  function pick(i) {
    var c = options[i];
    if (!c) return;
    idField.value = String(c.id);
    labelField.value = label(c);
    input.value = label(c);
    close();
    chosen();
    status.textContent = box.getAttribute("data-chosen").replace("{contact}", label(c));
  }
  function highlight(i) {
    var items = list.querySelectorAll("[role=option]");
    if (!items.length) return;
    active = (i + items.length) % items.length;
    Array.prototype.forEach.call(items, function (li, j) {
      li.setAttribute("aria-selected", j === active ? "true" : "false");
    });
    input.setAttribute("aria-activedescendant", items[active].id);
  }
  function show(found) {
    options = found;
    list.innerHTML = "";
    found.forEach(function (c, i) {
      var li = document.createElement("li");
      li.id = "nt-contact-opt-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.textContent = label(c);
      li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(i); });
      list.appendChild(li);
    });
    if (found.length) {
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      status.textContent = box.getAttribute("data-count").replace("{n}", String(found.length));
    } else {
      close();
      status.textContent = box.getAttribute("data-none");
    }
  }
  function search() {
    var q = input.value.trim();
    if (q === asked) return;
    asked = q;
    if (q.length < 2) { show([]); status.textContent = ""; return; }
    fetch("/contacts/search?q=" + encodeURIComponent(q), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (found) { if (input.value.trim() === q) show(found); })
      .catch(function () {});
  }
  input.addEventListener("input", function () {
    if (idField.value) { idField.value = ""; labelField.value = ""; chosen(); }
    window.clearTimeout(timer);
    timer = window.setTimeout(search, 150);
  });
  input.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey) return;
    var open = !list.hidden;
    if (e.key === "ArrowDown") { if (open) highlight(active + 1); e.preventDefault(); }
    else if (e.key === "ArrowUp") { if (open) highlight(active - 1); e.preventDefault(); }
    else if (e.key === "Enter") { if (open && active >= 0) { pick(active); } e.preventDefault(); }
    else if (e.key === "Escape") { if (open) { close(); e.preventDefault(); e.stopPropagation(); } }
  });
  input.addEventListener("blur", function () { window.setTimeout(close, 100); });
  chosen();
})();
