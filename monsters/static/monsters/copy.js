// Copy buttons for the embed snippets of a monster's page.
//
// A file of our own, loaded with <script defer>: the site's Content-Security-Policy
// allows no inline script and no eval. Without script the buttons stay hidden and the
// read-only fields can still be selected and copied by hand.
(function () {
  "use strict";

  var RESET_AFTER_MS = 3000;

  // The older way, for pages served over plain HTTP (no navigator.clipboard there).
  function copyBySelection(field) {
    field.focus();
    field.select();
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  function copy(field) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(field.value).then(
        function () { return true; },
        function () { return copyBySelection(field); }
      );
    }
    return Promise.resolve(copyBySelection(field));
  }

  function wire(button) {
    var field = document.getElementById(button.dataset.copy);
    var status = document.getElementById(button.dataset.status);
    if (!field || !status) {
      return;
    }
    var label = button.textContent;
    var timer = null;
    button.hidden = false;
    button.addEventListener("click", function () {
      copy(field).then(function (copied) {
        window.clearTimeout(timer);
        button.classList.toggle("copy--done", copied);
        button.textContent = copied ? "Copied" : label;
        status.textContent = copied
          ? "Copied to the clipboard."
          : "Selected: press Ctrl+C (or \u2318C) to copy.";
        timer = window.setTimeout(function () {
          button.classList.remove("copy--done");
          button.textContent = label;
          status.textContent = "";
        }, RESET_AFTER_MS);
      });
    });
  }

  document.querySelectorAll("button[data-copy]").forEach(wire);
})();
