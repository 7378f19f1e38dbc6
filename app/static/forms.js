/* Dealerflow forms: disable the submit button of a form marked data-once after the first
   submit, so a double click does not post twice. No dependencies. */
(function () {
  'use strict';
  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    if (!form.hasAttribute || !form.hasAttribute('data-once')) { return; }
    if (form.getAttribute('data-submitting') === '1') { ev.preventDefault(); return; }
    form.setAttribute('data-submitting', '1');
    var buttons = form.querySelectorAll('button[type="submit"]');
    // Disable after the browser has collected the form data (a disabled button is not sent).
    window.setTimeout(function () {
      for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = true; }
    }, 0);
  });
  // Back/forward cache: re-enable buttons when the page is shown again.
  window.addEventListener('pageshow', function () {
    var forms = document.querySelectorAll('form[data-submitting]');
    for (var i = 0; i < forms.length; i++) {
      forms[i].removeAttribute('data-submitting');
      var buttons = forms[i].querySelectorAll('button[type="submit"]');
      for (var j = 0; j < buttons.length; j++) { buttons[j].disabled = false; }
    }
  });
})();
