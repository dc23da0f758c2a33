// The web app: a static build of index.html and src/ui, served by `npm start`.
import { defineConfig } from "vite";
import { moviesentimentsAssets } from "./src/ui/vite-plugin-assets.ts";

export default defineConfig({
  root: ".",
  plugins: [moviesentimentsAssets()],
  base: "./",
  build: {
    outDir: "dist/app",
    emptyOutDir: true,
    target: "es2022",
  },
  worker: { format: "es" },
  preview: { host: "127.0.0.1", port: 4173, strictPort: false },
  server: { host: "127.0.0.1" },
});
