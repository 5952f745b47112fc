// Move focus to what is new: the feedback after an answer, otherwise the screen's heading,
// so a screen-reader or keyboard user starts reading where the content changed.
(function () {
  var target = document.getElementById("feedback") || document.querySelector("main h1[tabindex]");
  if (target) { target.focus(); }
})();
