// The Node CLI: src/node/cli.ts bundled into one ES module with a shebang, so a cold
// start loads a single file.
import { defineConfig } from "vite";

export default defineConfig({
  build: {
    ssr: "src/node/cli.ts",
    outDir: "dist/cli",
    emptyOutDir: true,
    target: "node20",
    minify: false,
    rollupOptions: {
      output: {
        entryFileNames: "moviesentiments.js",
        banner: "#!/usr/bin/env node",
        codeSplitting: false,
      },
    },
  },
  ssr: { noExternal: true, external: ["webgpu"] },
});
