import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The console is served by the admin listener under /console/ with a CSP that allows no inline script or
// style: Vite's output is plain files (one module script, one stylesheet), nothing inlined.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/console/",
  logLevel: "warn",
  build: {
    outDir: fileURLToPath(new URL("../dist/console", import.meta.url)),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: "es2022",
  },
});
