/* Small progressive enhancements for the staff pages; every page also works without them.
   - [data-count-url] forms: live count of recipients while the audience is chosen
   - [data-status-url]: campaign progress, refreshed every few seconds while sending
   - [data-preview-url] textareas: live preview of an email template while editing
   - form[data-confirm]: ask before something that cannot be undone
   - button[data-print]: print the page (the board report) */
(function () {
  "use strict";

  function debounce(fn, ms) {
    var timer;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  function liveCount(form) {
    var out = document.getElementById(form.getAttribute("data-count-target"));
    var update = debounce(function () {
      var params = new URLSearchParams();
      new FormData(form).forEach(function (value, key) {
        if (key !== "csrf_token" && key !== "action") { params.append(key, value); }
      });
      fetch(form.getAttribute("data-count-url") + "?" + params.toString(), {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (data) { out.textContent = data.text; out.setAttribute("data-count", data.count === null ? "" : data.count); })
        .catch(function () {});
    }, 250);
    form.addEventListener("change", update);
    form.addEventListener("input", update);
    update();
  }

  function followProgress(box) {
    var url = box.getAttribute("data-status-url");
    var initial = box.getAttribute("data-state");
    var initialWait = box.getAttribute("data-relay-wait") || null;  // a relay pause begun or ended: show it
    function tick() {
      fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (data) {
        Object.keys(data).forEach(function (key) {
          box.querySelectorAll("[data-field='" + key + "']").forEach(function (el) { el.textContent = data[key]; });
        });
        var done = data.sent + data.failed + data.bounced + data.skipped;
        var bar = box.querySelector("progress");
        if (bar) { bar.max = Math.max(1, data.recipients); bar.value = done; }
        if (data.state !== initial || (data.relay_paused_until || null) !== initialWait) { window.location.reload(); return; }
        setTimeout(tick, 2000);
      }).catch(function () { setTimeout(tick, 5000); });
    }
    setTimeout(tick, 1500);
  }

  function livePreview(area) {
    var form = area.form;
    var frame = document.getElementById("preview-html");
    var text = document.getElementById("preview-text");
    var subject = document.getElementById("preview-subject");
    var problem = document.getElementById("preview-problem");
    var update = debounce(function () {
      fetch(area.getAttribute("data-preview-url"), {method: "POST", body: new FormData(form), credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (data) {
          problem.hidden = data.ok;
          if (!data.ok) { problem.querySelector("code").textContent = data.problem; return; }
          frame.srcdoc = data.html; text.textContent = data.text; subject.textContent = data.subject;
        }).catch(function () {});
    }, 500);
    area.addEventListener("input", update);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-count-url]").forEach(liveCount);
    document.querySelectorAll("[data-status-url]").forEach(followProgress);
    document.querySelectorAll("textarea[data-preview-url]").forEach(livePreview);
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
    document.querySelectorAll("[data-js-only]").forEach(function (el) { el.hidden = false; });
    document.querySelectorAll("button[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  });
}());
