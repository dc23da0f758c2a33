// The web address of the source repository, from package.json's `repository` field
// (a string like "github:owner/name" or an object with a git URL).

const SHORTHAND = /^(github|gitlab|bitbucket):([\w.-]+\/[\w.-]+)$/;
const HOSTS: Record<string, string> = {
  github: "https://github.com/",
  gitlab: "https://gitlab.com/",
  bitbucket: "https://bitbucket.org/",
};

/** An https:// address a browser can open, or null when the field gives none. */
export function repositoryWebUrl(repository: unknown): string | null {
  const raw =
    typeof repository === "string"
      ? repository
      : repository && typeof repository === "object" && typeof (repository as { url?: unknown }).url === "string"
        ? (repository as { url: string }).url
        : null;
  if (!raw) return null;
  const s = raw.trim();
  const short = SHORTHAND.exec(s);
  if (short) return HOSTS[short[1]!]! + short[2]!;
  // npm's bare "owner/name" means GitHub
  if (/^[\w.-]+\/[\w.-]+$/.test(s)) return `https://github.com/${s}`;
  let url = s.replace(/^git\+/, "").replace(/^git:\/\//, "https://");
  const ssh = /^git@([^:]+):(.+)$/.exec(url);
  if (ssh) url = `https://${ssh[1]}/${ssh[2]}`;
  url = url.replace(/\.git$/, "");
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return null;
    return parsed.href.replace(/\/$/, "");
  } catch {
    return null;
  }
}
