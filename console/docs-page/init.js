// Swagger UI from its npm package (swagger-ui-dist), served by ingest: no CDN. A file, not an inline
// script, so the page's Content-Security-Policy needs no 'unsafe-inline' for scripts.
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
