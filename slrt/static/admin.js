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
