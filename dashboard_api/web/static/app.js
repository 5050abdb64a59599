// canteen-monitor web UI: the little every page needs. Hand-written, no dependencies.
// canteen.api(url, {method, body}) calls the JSON API with the session's CSRF token
// (<meta name="csrf">) and JSON in and out; it rejects with the API's `message` on an error.
"use strict";
(function () {
  function csrf() {
    var meta = document.querySelector('meta[name="csrf"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function api(url, options) {
    options = options || {};
    var headers = { "Accept": "application/json", "X-CSRF-Token": csrf() };
    var init = { method: options.method || "GET", headers: headers, credentials: "same-origin" };
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    return fetch(url, init).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error(data.message || response.statusText);
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  // A form with data-confirm="question" asks before it is sent.
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  window.canteen = { api: api, csrf: csrf };
})();
