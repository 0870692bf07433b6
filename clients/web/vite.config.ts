import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The web client: built into dist/ with hashed file names, served by the Parley server
// (server/web/). No inline script or style is emitted, so the strict CSP holds. Vite 6, not 7:
// 7 needs Node 20.19, and Parley runs on 20.10 and later.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    cssCodeSplit: true,
  },
  logLevel: "warn",
});
