import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { repositoryWebUrl } from "../../src/ui/repository.ts";

describe("repositoryWebUrl", () => {
  it.each([
    [{ type: "git", url: "https://github.com/a/b" }, "https://github.com/a/b"],
    [{ type: "git", url: "git+https://github.com/a/b.git" }, "https://github.com/a/b"],
    [{ url: "git://github.com/a/b.git" }, "https://github.com/a/b"],
    [{ url: "git@github.com:a/b.git" }, "https://github.com/a/b"],
    ["github:a/b", "https://github.com/a/b"],
    ["gitlab:a/b", "https://gitlab.com/a/b"],
    ["a/b", "https://github.com/a/b"],
    [{ url: "javascript:alert(1)" }, null],
    [{ url: 3 }, null],
    [undefined, null],
    ["", null],
  ])("%j -> %s", (repo, want) => expect(repositoryWebUrl(repo)).toBe(want));

  it("gives an https address for this project's package.json", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { repository: unknown };
    expect(repositoryWebUrl(pkg.repository)).toMatch(/^https:\/\/\S+$/);
  });
});
