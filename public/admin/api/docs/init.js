// Starts Swagger UI (copied from swagger-ui-dist by scripts/build-docs.mjs) on Cohort's document.
window.ui = SwaggerUIBundle({
  url: "/admin/api/openapi.json",
  dom_id: "#docs",
  deepLinking: true,
});
