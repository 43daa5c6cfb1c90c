// Puts the API reference page next to the console: Swagger UI's bundle and stylesheet from the npm
// package, with our page and its initializer, into dist/docs/ (ingest serves it at /docs).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "docs");
const swagger = join(root, "node_modules", "swagger-ui-dist");
mkdirSync(out, { recursive: true });
for (const file of ["swagger-ui-bundle.js", "swagger-ui.css"]) copyFileSync(join(swagger, file), join(out, file));
for (const file of ["index.html", "init.js", "overrides.css"]) copyFileSync(join(root, "docs-page", file), join(out, file));
