// Swagger UI for the API's schema (said in OpenAPI 3.0 for this Swagger UI 4), from the service's own copy of its files; "Try it out" sends
// the session's CSRF token so the browser's login works for state-changing calls.
"use strict";
window.addEventListener("load", function () {
  var meta = document.querySelector('meta[name="csrf"]');
  var token = meta ? meta.getAttribute("content") : "";
  window.ui = SwaggerUIBundle({
    url: "/docs/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    requestInterceptor: function (request) {
      if (token) {
        request.headers["X-CSRF-Token"] = token;
      }
      return request;
    },
  });
});
