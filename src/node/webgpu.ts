// WebGPU training from Node, through the optional `webgpu` package (Google's Dawn built
// for Node). It is not a dependency: most machines that run the CLI have no GPU that
// Dawn can use, and the CPU backend gives the same results there.

import { WebGpuUnavailableError, createWebGpuBackend, type WebGpuBackend, type WebGpuBackendOptions } from "../shaders/webgpu-backend.ts";

/** The part of the `webgpu` package we use: create(dawnOptions) returns a navigator.gpu. */
interface DawnModule {
  create(options: string[]): GPU;
}

const HOW_TO_FIX =
  "Train with `--backend cpu` instead, or run `npm install webgpu` on a machine with a real GPU and try again.";

/**
 * Creates a WebGpuBackend on Dawn from the optional `webgpu` package. Throws a
 * WebGpuUnavailableError saying what is missing (the package, or a GPU adapter) and to
 * use `--backend cpu`.
 */
export async function createNodeWebGpuBackend(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  // In a variable, so bundlers leave the optional import alone.
  const specifier = "webgpu";
  let dawn: DawnModule;
  try {
    const mod = (await import(/* @vite-ignore */ specifier)) as Partial<DawnModule> & { default?: Partial<DawnModule> };
    const create = mod.create ?? mod.default?.create;
    if (typeof create !== "function") throw new Error("the module has no create() function");
    dawn = { create };
  } catch (error) {
    throw new WebGpuUnavailableError(
      `WebGPU in Node needs the optional npm package "webgpu" (Dawn), which could not be loaded ` +
        `(${error instanceof Error ? error.message : String(error)}). ${HOW_TO_FIX}`,
      { cause: error },
    );
  }
  let gpu: GPU;
  try {
    gpu = dawn.create([]);
  } catch (error) {
    throw new WebGpuUnavailableError(`the "webgpu" package failed to start Dawn: ${String(error)}. ${HOW_TO_FIX}`, {
      cause: error,
    });
  }
  try {
    return await createWebGpuBackend(gpu, options);
  } catch (error) {
    if (error instanceof WebGpuUnavailableError) {
      throw new WebGpuUnavailableError(`No usable WebGPU adapter was found by Dawn: ${error.message}. ${HOW_TO_FIX}`, {
        cause: error,
      });
    }
    throw error;
  }
}
