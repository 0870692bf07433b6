import { defineConfig } from "vite";

// The web client: built into dist/ with hashed file names, served by the Parley server
// (server/web/). No inline script or style is emitted, so the strict CSP holds.
export default defineConfig({
  root: import.meta.dirname,
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
