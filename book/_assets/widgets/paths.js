// Loaded between require.js and embed-amd.js (nb_ipywidgets_js in _config.yml). RequireJS gives
// the widget bundles module addresses relative to the page, and their icon fonts are fetched from
// there; point the @jupyter-widgets modules at this folder, where the fonts are, on every page.
(function () {
  var here = document.currentScript.src.replace(/[^/]*$/, "");
  var dir = here.replace(/\/$/, "");
  require.config({
    paths: {
      "@jupyter-widgets/html-manager/dist": dir,
      "@jupyter-widgets": dir,
    },
  });
})();
