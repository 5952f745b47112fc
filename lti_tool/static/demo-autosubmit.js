// Post the id_token to the tool straight away; the visible button covers browsers without JavaScript.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var form = document.querySelector("form[data-autosubmit]");
  if (form) { form.submit(); }
});
