// Reload the course page when the tool says Dynamic Registration is finished (LTI DR §3.6.1).
(function () {
  "use strict";
  var toolOrigin = document.currentScript.dataset.toolOrigin;
  window.addEventListener("message", function (event) {
    if (event.origin !== toolOrigin) { return; }
    if (event.data && event.data.subject === "org.imsglobal.lti.close") {
      window.location.replace(window.location.pathname);
    }
  });
})();
