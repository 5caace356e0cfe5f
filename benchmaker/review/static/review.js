// Keyboard review. The pages work without this script: every action is an ordinary form or link.
(function () {
  "use strict";
  function el(id) { return document.getElementById(id); }
  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }
  function go(link) { if (link) { window.location.href = link.href; } }
  function submit(form) { if (form && !form.dataset.sent) { form.dataset.sent = "1"; form.requestSubmit(); } }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-help]")) { el("help").hidden = !el("help").hidden; }
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "Escape") { if (document.activeElement) { document.activeElement.blur(); } return; }
    if (typing(event.target)) { return; }
    var page = document.body.dataset.page;
    var key = event.key;
    if (key === "?") { el("help").hidden = !el("help").hidden; event.preventDefault(); return; }
    if (page === "list") {
      if (key === "Enter" || key === "j") { go(el("start")); event.preventDefault(); }
      return;
    }
    if (page === "error") {
      if (key === "Enter" || key === "u") { go(document.querySelector("[data-back]")); event.preventDefault(); }
      return;
    }
    if (page !== "item") { return; }
    var reject = el("reject-panel");
    if (reject && reject.open && /^[1-9]$/.test(key)) {
      var choice = reject.querySelector('input[data-key="' + key + '"]');
      if (choice) {
        choice.checked = true;
        if (choice.value === "other") { reject.querySelector('input[name="note"]').focus(); }
        else { submit(el("reject-form")); }
        event.preventDefault();
      }
      return;
    }
    switch (key) {
      case "j": case "ArrowRight": go(el("next")); break;
      case "k": case "ArrowLeft": go(el("prev")); break;
      case "u": go(el("up")); break;
      case "a": submit(el("accept-form")); break;
      case "r":
        el("correct-panel").open = false; reject.open = true;
        if (document.activeElement) { document.activeElement.blur(); }
        break;
      case "c":
        reject.open = false; el("correct-panel").open = true;
        el("correct-panel").querySelector('input[name="answer"]:checked').focus(); break;
      default: return;
    }
    event.preventDefault();
  });
})();
