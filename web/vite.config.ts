import { defineConfig } from "vite";

// The UI is served by `kansoku server` from web/dist: the shell at any extension-less path,
// content-hashed assets under /assets/ (cached forever by the server).
export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
    chunkSizeWarningLimit: 400,
  },
  server: {
    // `npm run dev` against a local `make run` server.
    proxy: { "/api": "http://127.0.0.1:9400", "/-": "http://127.0.0.1:9400" },
  },
});
