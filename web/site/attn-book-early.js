// Loaded in the page head, before the theme's deferred scripts.

// 1. Font Awesome (from the book theme) replaces every <i class="fa ..."> with an <svg> by
//    default, which breaks ipywidgets' Play button: the widget keeps a reference to the <i>
//    it created and updates that. "nest" puts the SVG inside the <i> instead.
window.FontAwesomeConfig = { autoReplaceSvg: "nest" };

// 2. The widget manager typesets widget labels with the MathJax 2 API
//    (MathJax.Hub.Queue); the book loads MathJax 3, which has no Hub, and a label would
//    fail to render. Once MathJax 3 is loaded (deferred scripts run before
//    DOMContentLoaded; widgets render on "load"), give it a Hub that forwards to
//    MathJax 3's typesetPromise.
document.addEventListener("DOMContentLoaded", function () {
  var mj = window.MathJax;
  if (!mj || mj.Hub || !mj.typesetPromise) {
    return;
  }
  mj.Hub = {
    Queue: function (command) {
      var element = command && command[2];
      if (element) {
        mj.startup.promise.then(function () {
          return mj.typesetPromise([element]);
        }).catch(function () {});
      }
    },
  };
});

// 3. Accessible names for the widget controls the widget manager draws. Slider handles
//    (role="slider") get the text of their widget's label; the Play widget's icon-only
//    buttons get a name from their icon. Widgets appear after "load", so watch the page.
(function () {
  var ICON_NAMES = { "fa-play": "Play", "fa-pause": "Pause", "fa-stop": "Stop", "fa-retweet": "Repeat", "fa-repeat": "Repeat" };
  function label(root) {
    root.querySelectorAll(".noUi-handle[role='slider']:not([aria-label])").forEach(function (handle) {
      var widget = handle.closest(".widget-slider, .widget-hslider, .jupyter-widgets");
      var text = widget && widget.querySelector(".widget-label");
      if (text && text.textContent.trim()) {
        handle.setAttribute("aria-label", text.textContent.trim());
      }
    });
    root.querySelectorAll(".widget-play button:not([aria-label]), .jupyter-widgets button:not([aria-label])").forEach(function (button) {
      if (button.textContent.trim()) {
        return;
      }
      var icon = button.querySelector("i, svg");
      var classes = icon ? (icon.getAttribute("class") || "") + " " + (icon.getAttribute("data-icon") ? "fa-" + icon.getAttribute("data-icon") : "") : "";
      for (var name in ICON_NAMES) {
        if (classes.indexOf(name) !== -1) {
          button.setAttribute("aria-label", ICON_NAMES[name]);
          return;
        }
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    label(document);
    new MutationObserver(function () { label(document); }).observe(document.body, { childList: true, subtree: true });
  });
})();
