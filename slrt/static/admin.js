// What the screens did with inline event handlers, which the Content-Security-Policy refuses.
(function () {
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    var action = target.closest("[data-model-action]");
    if (action) {  // "With selected" actions on a list (Flask-Admin's actions.js does the rest)
      event.preventDefault();
      window.modelActions.execute(action.getAttribute("data-model-action"));
      return;
    }
    var asking = target.closest("[data-confirm]");
    if (asking) {
      if (!window.confirm(asking.getAttribute("data-confirm"))) event.preventDefault();
      return;
    }
    if (target.closest("[data-print]")) {
      window.print();
      return;
    }
    // Flask-Admin's placeholder links (href="javascript:void(0)"): following one would run inline script.
    if (target.closest('a[href^="javascript:"]')) event.preventDefault();
  }, true);  // capturing: Bootstrap's dropdown toggles stop the click before it bubbles up here
})();

// A list row opens its record: a click on a cell of the row (not on a link, a button or a box)
// follows the row's own link (data-row-open, else the eye icon's); Ctrl/Cmd-click opens a tab.
(function () {
  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0) return;
    var target = event.target instanceof Element ? event.target : null;
    if (!target || target.closest("a, button, input, select, textarea, label, form")) return;
    var cell = target.closest("table.model-list > tbody > tr > td[class^='col-']");
    if (!cell) return;
    var selected = window.getSelection ? String(window.getSelection()) : "";
    if (selected) return;  // selecting text to copy it, not opening the record
    var row = cell.parentElement;
    var link = row.querySelector("a[data-row-open]") || row.querySelector('a[href*="/details/"]');
    if (!link) return;
    if (event.ctrlKey || event.metaKey) window.open(link.href);
    else window.location.assign(link.href);
  });
})();
