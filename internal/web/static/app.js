// Parley dashboard enhancements. Every page works without this file; it only adds the Copy
// buttons, asks before destructive buttons (data-confirm), ticks Override when an inherited setting
// is changed, moves focus to a form's error summary
// and suggests the browser's time zone in the create-workspace form.
(function () {
  "use strict";

  // announce puts msg in the button's live region (role=status), so screen readers read it.
  function announce(btn, msg) {
    var status = document.getElementById(btn.getAttribute("data-copy-status"));
    if (!status) {
      return;
    }
    status.textContent = msg;
    window.clearTimeout(btn.parleyTimer);
    btn.parleyTimer = window.setTimeout(function () { status.textContent = ""; }, 4000);
  }

  function selectContents(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  // fallback selects the text (so Ctrl+C works) and tries the old copy command.
  function fallback(btn, el) {
    selectContents(el);
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    announce(btn, ok ? "Copied" : "Selected: press Ctrl+C (⌘C on a Mac) to copy");
  }

  document.querySelectorAll("button[data-copy-target]").forEach(function (btn) {
    var el = document.getElementById(btn.getAttribute("data-copy-target"));
    if (!el) {
      return;
    }
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var text = el.textContent.trim();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(
          function () { announce(btn, "Copied"); },
          function () { fallback(btn, el); }
        );
      } else {
        fallback(btn, el);
      }
    });
  });

  // Destructive buttons ask first; without script they submit straight away.
  document.querySelectorAll("button[data-confirm]").forEach(function (btn) {
    btn.addEventListener("click", function (e) {
      if (!window.confirm(btn.getAttribute("data-confirm"))) {
        e.preventDefault();
      }
    });
  });

  // Changing an inherited setting ticks its Override box, so the form says what will be saved.
  document.querySelectorAll("[data-override]").forEach(function (input) {
    var box = document.getElementById(input.getAttribute("data-override"));
    if (!box) {
      return;
    }
    input.addEventListener("change", function () { box.checked = true; });
  });

  // After a failed submit, take keyboard and screen-reader users to the list of problems.
  var summary = document.querySelector(".error-summary");
  if (summary) {
    summary.focus();
  }

  // Suggest the browser's time zone in a fresh create-workspace form (still showing UTC).
  var tz = document.querySelector("input[data-detect-timezone]");
  if (tz && tz.value === "UTC" && window.Intl && Intl.DateTimeFormat) {
    try {
      var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (zone && /^[A-Za-z_]+(\/[A-Za-z0-9_+\-]+)*$/.test(zone)) {
        tz.value = zone;
      }
    } catch (e) {
      // keep UTC
    }
  }
})();
