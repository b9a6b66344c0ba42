// Tessera's viewer page: OpenSeadragon on the image's info.json (the data-info attribute of #viewer).
// What happened is kept in window.tessera (opened, openFailed, tileFailures, tilesLoaded) and said in
// #viewer-status, for readers and for the browser test alike.
(function () {
  "use strict";
  var element = document.getElementById("viewer");
  var status = document.getElementById("viewer-status");
  var state = { viewer: null, opened: false, openFailed: null, tileFailures: [], tilesLoaded: 0 };
  window.tessera = state;

  function say(text, isError) {
    if (status) {
      status.textContent = text;
      status.classList.toggle("error", Boolean(isError));
    }
  }

  if (!element || typeof OpenSeadragon !== "function") {
    say("The viewer could not start.", true);
    return;
  }

  var viewer = OpenSeadragon({
    element: element,
    prefixUrl: element.dataset.prefix,
    tileSources: element.dataset.info,
    showNavigator: true,
    showRotationControl: false,
    crossOriginPolicy: false
  });
  state.viewer = viewer;

  function describe(item) {
    var size = item.getContentSize();
    return size.x + " × " + size.y + " pixels. Scroll or click to zoom, drag to pan.";
  }

  viewer.addHandler("open", function () {
    state.opened = true;
    var item = viewer.world.getItemAt(0);
    say("Loading tiles…");
    item.addHandler("fully-loaded-change", function (event) {
      if (event.fullyLoaded && state.tileFailures.length === 0) {
        say(describe(item));
      }
    });
  });
  viewer.addHandler("open-failed", function (event) {
    state.openFailed = String(event.message || "unknown error");
    say("The image could not be opened: " + state.openFailed, true);
  });
  viewer.addHandler("tile-loaded", function () {
    state.tilesLoaded += 1;
  });
  viewer.addHandler("tile-load-failed", function (event) {
    var tile = event.tile;
    state.tileFailures.push({
      url: tile && typeof tile.getUrl === "function" ? String(tile.getUrl()) : "",
      message: String(event.message || "")
    });
    say(state.tileFailures.length + " tile(s) could not be loaded.", true);
  });
})();
