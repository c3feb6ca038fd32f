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
