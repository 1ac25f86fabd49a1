// Typeset the math that pymdownx.arithmatex (generic mode) leaves as \( ... \) and \[ ... \] inside
// elements of class "arithmatex", with the KaTeX vendored under javascripts/katex/ (no CDN).
// Material for MkDocs publishes each page load on document$ (instant navigation included).
(function () {
  function typeset(root) {
    for (const element of root.querySelectorAll(".arithmatex")) {
      renderMathInElement(element, {
        delimiters: [
          { left: "\\(", right: "\\)", display: false },
          { left: "\\[", right: "\\]", display: true },
        ],
        throwOnError: false,
      });
    }
  }
  if (typeof document$ !== "undefined") {
    document$.subscribe(function ({ body }) {
      typeset(body);
    });
  } else {
    document.addEventListener("DOMContentLoaded", function () {
      typeset(document.body);
    });
  }
})();
