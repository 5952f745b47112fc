// The demo LMS's side of LTI Platform Storage (1EdTech "LTI Client Side postMessages" + "Platform Storage").
// Answers lti.capabilities, lti.put_data and lti.get_data from the tool's origin only; every other subject
// gets an "unsupported_subject" error. Values live in this frame's memory, which lasts as long as the
// launch page, and are scoped by the sender's origin. Replies go to event.source, targetOrigin = event.origin.
(function () {
  "use strict";
  var script = document.currentScript;
  var toolOrigin = script.dataset.toolOrigin;
  var frameName = script.dataset.frame;
  var SUBJECTS = ["lti.capabilities", "lti.put_data", "lti.get_data"];
  var store = new Map();

  function scoped(origin, key) { return origin + " " + key; }

  function error(code, message) { return {error: {code: code, message: message}}; }

  function answer(origin, m) {
    if (m.subject === "lti.capabilities") {
      return {supported_messages: SUBJECTS.map(function (s) { return {subject: s, frame: frameName}; })};
    }
    if (m.subject === "lti.put_data" || m.subject === "lti.get_data") {
      if (typeof m.key !== "string" || !m.key) { return error("bad_request", "key must be a non-empty string"); }
    }
    if (m.subject === "lti.put_data") {
      if (typeof m.value !== "string") { return error("bad_request", "value must be a string"); }
      store.set(scoped(origin, m.key), m.value);
      return {key: m.key, value: m.value};
    }
    if (m.subject === "lti.get_data") {
      var k = scoped(origin, m.key);
      if (!store.has(k)) { return error("bad_request", "nothing is stored under this key"); }
      return {key: m.key, value: store.get(k)};
    }
    return error("unsupported_subject", "this platform does not support " + m.subject);
  }

  window.addEventListener("message", function (event) {
    var m = event.data;
    if (event.origin !== toolOrigin || !event.source) { return; }
    if (!m || typeof m !== "object" || typeof m.subject !== "string" || /\.response$/.test(m.subject)) { return; }
    var reply = answer(event.origin, m);
    reply.subject = m.subject + ".response";
    reply.message_id = m.message_id;
    event.source.postMessage(reply, event.origin);
  });
}());
