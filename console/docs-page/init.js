// Swagger UI from its npm package (swagger-ui-dist), served by ingest: no CDN. A file, not an inline
// script, so the page's Content-Security-Policy needs no 'unsafe-inline' for scripts.
// validatorUrl: null, or Swagger UI would load a badge from its public validator service; deepLinking off:
// its anchor inside each operation's button is a nested interactive control (axe-core).
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: false, validatorUrl: null });
