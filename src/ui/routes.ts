// The app's four pages and hash routing: "#/predict" -> the Make Prediction page.

export type PageId = "home" | "predict" | "training" | "epochs";

export interface Route {
  id: PageId;
  hash: string;
  title: string;
}

export const ROUTES: readonly Route[] = [
  { id: "home", hash: "#/", title: "Home" },
  { id: "predict", hash: "#/predict", title: "Make Prediction" },
  { id: "training", hash: "#/training", title: "Training Progress" },
  { id: "epochs", hash: "#/epoch-metrics", title: "Epoch Metrics" },
];

/** The page a location hash names; unknown or empty hashes go home. */
export function routeFromHash(hash: string): Route {
  const path = hash.replace(/^#/, "").replace(/\/+$/, "").split("?")[0] ?? "";
  const found = ROUTES.find((r) => r.hash.slice(1).replace(/\/+$/, "") === path);
  return found ?? ROUTES[0]!;
}
