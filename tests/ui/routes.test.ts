import { describe, expect, it } from "vitest";
import { ROUTES, routeFromHash } from "../../src/ui/routes.ts";

describe("routes", () => {
  it("names the four pages in the navigation order", () => {
    expect(ROUTES.map((r) => r.title)).toEqual(["Home", "Make Prediction", "Training Progress", "Epoch Metrics"]);
  });

  it.each([
    ["", "home"],
    ["#", "home"],
    ["#/", "home"],
    ["#/predict", "predict"],
    ["#/predict/", "predict"],
    ["#/training", "training"],
    ["#/epoch-metrics", "epochs"],
    ["#/epoch-metrics?x=1", "epochs"],
    ["#/nope", "home"],
  ])("%s -> %s", (hash, id) => expect(routeFromHash(hash).id).toBe(id));

  it("every route's own hash leads back to it", () => {
    for (const r of ROUTES) expect(routeFromHash(r.hash)).toBe(r);
  });
});
