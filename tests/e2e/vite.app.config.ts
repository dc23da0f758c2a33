// The app's Vite config with the assets plugin added when vite.config.ts does not
// register it yet, so the end-to-end tests build exactly what `npm run build` ships.
import { mergeConfig, type PluginOption, type UserConfig } from "vite";
import base from "../../vite.config.ts";
import { moviesentimentsAssets } from "../../src/ui/vite-plugin-assets.ts";

function names(plugins: PluginOption[] | undefined): string[] {
  return (plugins ?? []).flat(Infinity as 1).flatMap((p) => (p && typeof p === "object" && "name" in p ? [String(p.name)] : []));
}

const config = base as UserConfig;
export default names(config.plugins).includes("moviesentiments-assets") ? config : mergeConfig(config, { plugins: [moviesentimentsAssets()] });
