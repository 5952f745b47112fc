// Tell the platform that registration is finished (LTI Dynamic Registration §3.6).
(function () {
  var target = window.opener || window.parent;
  if (target && target !== window) {
    target.postMessage({ subject: "org.imsglobal.lti.close" }, "*");
  }
})();
