// canteen-monitor live updates for the overview and device pages. Hand-written, no dependencies.
//
// A page with [data-live] opens an EventSource on /api/live (server-sent events: a `snapshot`,
// then `reading`, `presence` and `alert` events as they are stored). A reading updates the
// tile's value and time at once; the tile's status is derived again with the rule the server
// uses (dashboard_api/web/pages_overview.py, `tile_status`): offline, alert, stale, warning, ok.
// An alert event, a `reload` event (the server found this client too far behind) or a
// reconnect refetches the page and swaps its [data-live-region]: alert counts and disinfection
// verdicts come from the server, never guessed here. Without JavaScript the page still shows
// the server's values; a reload shows current data.
"use strict";
(function () {
  var root = document.querySelector("[data-live]");
  if (!root || typeof window.EventSource !== "function") {
    return;
  }
  var stateBox = document.getElementById("live-state");
  // The service's clock may not be this browser's (a simulated demo, a skewed tablet): ages
  // are measured against the server's "now" carried by the page, advanced by the local clock.
  var serverNow = Number(root.getAttribute("data-server-now")) || Date.now();
  var offset = serverNow - Date.now();
  var today = root.getAttribute("data-today") || "";
  var opened = 0;
  var refreshing = null;
  var refreshAgain = false;

  function now() {
    return Date.now() + offset;
  }

  function showState(state) {
    if (!stateBox) {
      return;
    }
    stateBox.setAttribute("data-state", state);
    var word = stateBox.getAttribute(state === "live" ? "data-word-live" : "data-word-lost");
    if (word) {
      stateBox.textContent = word;
    }
  }

  // -- tiles ---------------------------------------------------------------------------------

  function statusOf(tile) {
    var online = tile.getAttribute("data-online");
    if (online === "false") {
      return "offline";
    }
    if (Number(tile.getAttribute("data-fired")) > 0) {
      return "alert";
    }
    var at = Number(tile.getAttribute("data-reading-ms"));
    var staleAfter = Number(tile.getAttribute("data-stale-after-ms"));
    if (!at || now() - at > staleAfter) {
      return "stale";
    }
    if (Number(tile.getAttribute("data-pending")) > 0 || outOfBand(tile)) {
      return "warning";
    }
    return "ok";
  }

  function outOfBand(tile) {
    var value = Number(tile.getAttribute("data-value"));
    var raw = tile.getAttribute("data-value");
    if (raw === null || raw === "" || isNaN(value)) {
      return false;
    }
    var low = tile.getAttribute("data-low");
    var high = tile.getAttribute("data-high");
    return (high !== "" && high !== null && value > Number(high)) ||
      (low !== "" && low !== null && value < Number(low));
  }

  function setStatus(tile) {
    var status = statusOf(tile);
    var before = tile.getAttribute("data-status");
    if (status === before) {
      return;
    }
    tile.classList.remove("status-" + before);
    tile.classList.add("status-" + status);
    tile.setAttribute("data-status", status);
    var text = tile.querySelector(".tile-status-text");
    var word = document.querySelector("[data-status-word='" + status + "']");
    if (text && word) {
      text.textContent = word.textContent;
    }
  }

  function shownValue(value, decimals) {
    if (value === true || value === false) {
      var word = document.querySelector("[data-value-word='" + value + "']");
      return word ? word.textContent : String(value);
    }
    return Number(value).toFixed(decimals);
  }

  // `ts` is the reading's local time in the site's zone (ISO 8601 with offset): its digits
  // are shown as they are, so the tile reads in the school's time whatever the browser's zone.
  function shownTime(ts) {
    var day = ts.slice(0, 10);
    return (day === today ? "" : ts.slice(5, 10) + " ") + ts.slice(11, 16);
  }

  function applyReading(device, metric, reading, flash) {
    var tile = document.getElementById("tile-" + device);
    if (tile && tile.getAttribute("data-metric") === metric) {
      var decimals = Number(tile.getAttribute("data-decimals")) || 0;
      var valueBox = tile.querySelector(".tile-value");
      if (valueBox) {
        valueBox.textContent = shownValue(reading.value, decimals);
      }
      var timeBox = tile.querySelector(".tile-time");
      if (timeBox && reading.ts) {
        timeBox.textContent = shownTime(reading.ts);
        timeBox.setAttribute("datetime", reading.ts);
      }
      tile.setAttribute("data-value", typeof reading.value === "boolean" ? "" : reading.value);
      tile.setAttribute("data-reading-ms", String(Date.parse(reading.ts) || now()));
      if (flash) {
        tile.classList.remove("fresh");
        void tile.offsetWidth; // restart the highlight
        tile.classList.add("fresh");
      }
      setStatus(tile);
    }
    var cells = document.querySelectorAll("[data-live-value][data-device='" + device + "']");
    for (var i = 0; i < cells.length; i++) {
      if (cells[i].getAttribute("data-metric") === metric) {
        cells[i].textContent = shownValue(reading.value, Number(cells[i].getAttribute("data-decimals")) || 0);
      }
    }
    var times = document.querySelectorAll("[data-live-time][data-device='" + device + "']");
    for (var j = 0; j < times.length; j++) {
      if (times[j].getAttribute("data-metric") === metric && reading.ts) {
        times[j].textContent = reading.ts.slice(5, 10) + " " + reading.ts.slice(11, 19);
      }
    }
  }

  function applyPresence(device, online) {
    var tile = document.getElementById("tile-" + device);
    if (tile) {
      tile.setAttribute("data-online", online ? "true" : "false");
      setStatus(tile);
    }
  }

  function applyDevice(device, data, flash) {
    var values = data.values || {};
    for (var metric in values) {
      if (Object.prototype.hasOwnProperty.call(values, metric)) {
        applyReading(device, metric, values[metric], flash);
      }
    }
    if (typeof data.online === "boolean") {
      applyPresence(device, data.online);
    }
  }

  // -- whole-page refresh --------------------------------------------------------------------

  function refresh() {
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = fetch(window.location.href, {
      credentials: "same-origin",
      headers: { "Accept": "text/html" }
    }).then(function (response) {
      if (response.redirected && /\/login/.test(response.url)) {
        window.location.reload(); // the session ended: the login page says so
        return null;
      }
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (html) {
        swap(new DOMParser().parseFromString(html, "text/html"));
      }
    }).catch(function () {
      // The next event or reconnect tries again; the page keeps what it shows.
    }).then(function () {
      refreshing = null;
      if (refreshAgain) {
        refreshAgain = false;
        refresh();
      }
    });
  }

  function swap(fresh) {
    var regions = document.querySelectorAll("[data-live-region]");
    for (var i = 0; i < regions.length; i++) {
      var id = regions[i].id;
      var replacement = id ? fresh.getElementById(id) : null;
      if (replacement) {
        regions[i].innerHTML = replacement.innerHTML;
      }
    }
    var freshRoot = fresh.querySelector("[data-live]");
    if (freshRoot) {
      serverNow = Number(freshRoot.getAttribute("data-server-now")) || serverNow;
      offset = serverNow - Date.now();
      today = freshRoot.getAttribute("data-today") || today;
    }
  }

  // -- the stream ----------------------------------------------------------------------------

  function parse(event) {
    try {
      return JSON.parse(event.data);
    } catch (error) {
      return null;
    }
  }

  var url = "/api/live";
  var only = root.getAttribute("data-device");
  if (only) {
    url += "?device=" + encodeURIComponent(only);
  }
  // EventSource reconnects by itself after a dropped stream; it gives up (CLOSED) when an
  // answer is not a stream at all (a 401 after the session ended, a 503 while the service
  // restarts). Then a new one is opened after a growing pause, up to a minute, and the page is
  // refetched when it opens (which also finds an ended session: the login page).
  var retryMs = 2000;

  function connect() {
    var source = new EventSource(url, { withCredentials: true });
    source.addEventListener("open", function () {
      opened += 1;
      retryMs = 2000;
      showState("live");
      if (opened > 1) {
        refresh(); // a reconnect: what happened meanwhile comes with the page
      }
    });
    source.addEventListener("error", function () {
      showState("lost");
      if (source.readyState === EventSource.CLOSED) {
        window.setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 60000);
        refresh();
      }
    });
    source.addEventListener("snapshot", function (event) {
      var data = parse(event);
      var devices = (data && data.devices) || {};
      for (var device in devices) {
        if (Object.prototype.hasOwnProperty.call(devices, device)) {
          applyDevice(device, devices[device], false);
        }
      }
    });
    source.addEventListener("reading", function (event) {
      var data = parse(event);
      if (data && data.device) {
        applyDevice(data.device, data, true);
      }
    });
    source.addEventListener("presence", function (event) {
      var data = parse(event);
      if (data && data.device) {
        applyPresence(data.device, data.online);
      }
    });
    source.addEventListener("alert", function () {
      refresh();
    });
    source.addEventListener("reload", function () {
      refresh();
    });
  }

  connect();

  // A device that stops reporting turns stale without any event: look again now and then.
  window.setInterval(function () {
    var tiles = document.querySelectorAll(".tile[data-device]");
    for (var i = 0; i < tiles.length; i++) {
      setStatus(tiles[i]);
    }
  }, 5000);
})();
