/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The API for `npm run dev`: the ingest of `reelstream dev` (REELSTREAM_API_URL to point elsewhere).
const api = process.env.REELSTREAM_API_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: { outDir: "dist", assetsDir: "assets", sourcemap: false },
  server: {
    proxy: { "/v1": api, "/openapi.json": api, "/healthz": api, "/console/config.json": api },
  },
  test: { environment: "jsdom", include: ["src/**/*.test.tsx", "src/**/*.test.ts"] },
});
