// LTI Platform Storage (1EdTech "LTI Client Side postMessages" + "Platform Storage"), for browsers that
// refuse the tool's cookies inside the LMS iframe. The page's #lti-storage element says what to do:
//   data-step="put": at login, keep the login's secret in the platform's frame, then go on to the platform;
//   data-step="get": at launch, fetch the secret back and post it with the launch, or show the way out.
// Messages go to the frame the platform named (lti_storage_target) with targetOrigin = the origin of its
// OIDC auth endpoint, and only answers from that origin with our message_id are taken.
(function () {
  "use strict";
  var box = document.getElementById("lti-storage");
  if (!box) { return; }
  var d = box.dataset;
  // Generous: a busy LMS page may load its storage frame late; a platform that never answers only delays
  // the login (then the cookie, or the new-window page, takes over).
  var WAIT_MS = 3000;
  var CAPABILITIES_WAIT_MS = 3000;
  // The platform's frame may still be loading when we first speak: say it again until it answers.
  var RESEND_MS = 200;

  function messageId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return String(Date.now()) + "-" + String(Math.random()).slice(2);
  }

  function frameNamed(name) {
    try {
      if (name === "_parent") { return window.parent !== window ? window.parent : null; }
      return window.parent.frames[name] || null;
    } catch (e) {
      return null;
    }
  }

  // Resolve with the platform's answer to one message, or null (no such frame, an error, no answer in time).
  function ask(name, message, waitMs) {
    return new Promise(function (resolve) {
      var target = frameNamed(name);
      if (!target) { resolve(null); return; }
      message.message_id = messageId();
      var resend, timer;
      function listen(event) {
        var data = event.data;
        if (event.origin !== d.origin || !data || typeof data !== "object") { return; }
        if (data.subject !== message.subject + ".response" || data.message_id !== message.message_id) { return; }
        finish(data.error ? null : data);
      }
      function finish(answer) {
        clearInterval(resend);
        clearTimeout(timer);
        window.removeEventListener("message", listen);
        resolve(answer);
      }
      function send() {
        try { target.postMessage(message, d.origin); } catch (e) { /* the frame went away */ }
      }
      window.addEventListener("message", listen);
      send();
      resend = setInterval(send, RESEND_MS);
      timer = setTimeout(function () { finish(null); }, waitMs);
    });
  }

  // lti.capabilities names the frame for each subject; a platform that does not answer it is tried as named.
  function frameFor(subject) {
    return ask(d.target, {subject: "lti.capabilities"}, CAPABILITIES_WAIT_MS).then(function (caps) {
      if (!caps || !Array.isArray(caps.supported_messages)) { return d.target; }
      var found = caps.supported_messages.filter(function (m) { return m && m.subject === subject; })[0];
      return found ? (found.frame || d.target) : null;
    });
  }

  function put() {
    frameFor("lti.put_data").then(function (name) {
      return name ? ask(name, {subject: "lti.put_data", key: d.key, value: d.value}, WAIT_MS) : null;
    }).then(function () {
      // Stored or not, the login goes on: the cookie may still work, and the launch offers the way out.
      window.location.replace(d.next);
    });
  }

  function get() {
    var form = box.querySelector("form[data-storage-form]");
    frameFor("lti.get_data").then(function (name) {
      return name ? ask(name, {subject: "lti.get_data", key: d.key}, WAIT_MS) : null;
    }).then(function (answer) {
      if (answer && answer.key === d.key && typeof answer.value === "string" && answer.value) {
        form.elements.lti_storage_value.value = answer.value;
        form.submit();
        return;
      }
      box.querySelector("h1").textContent = "Open Upstander in a new window";
      box.querySelector("[data-storage-failed]").hidden = false;
    });
  }

  if (d.step === "put") { put(); } else if (d.step === "get") { get(); }
}());
