// A loopback stand-in for the Hugging Face Hub, for tests: 127.0.0.1, port 0, only the routes
// @huggingface/hub calls (model info, resolve with byte ranges), with the Hub's headers (ETag /
// X-Linked-ETag, X-Repo-Commit, Content-Range, X-Error-Code). It records every request, and can
// stall a body halfway, corrupt one, slow everything down, or gate a repo behind a token.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";

export interface FakeRepo {
  /** Repo path → content. */
  files: Map<string, Buffer>;
  commit: string;
  /** 401 without `Authorization: Bearer <token>`. */
  token?: string;
}

export interface Seen {
  method: string;
  url: string;
  range?: string;
  auth?: string;
}

/** A repo from a local folder (recursively), with a commit hash derived from its content. */
export function repoFromFolder(dir: string, extra: Record<string, Buffer | string> = {}, omit: (p: string) => boolean = () => false): FakeRepo {
  const files = new Map<string, Buffer>();
  const walk = (d: string, prefix: string) => {
    for (const name of readdirSync(d).sort()) {
      const full = path.join(d, name);
      const rel = prefix + name;
      if (statSync(full).isDirectory()) walk(full, `${rel}/`);
      else if (!omit(rel)) files.set(rel, readFileSync(full));
    }
  };
  walk(dir, "");
  for (const [k, v] of Object.entries(extra)) files.set(k, Buffer.from(v));
  const h = createHash("sha1");
  for (const [k, v] of files) h.update(k).update(v);
  return { files, commit: h.digest("hex") };
}

/** The Hub's ETag: sha256 for LFS files (here: .onnx and anything over 10 kB), the git blob sha1 otherwise. */
export function etagOf(name: string, content: Buffer): string {
  if (name.endsWith(".onnx") || name.includes(".onnx_data") || content.length > 10_000) return createHash("sha256").update(content).digest("hex");
  return createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
}

export class FakeHub {
  readonly repos = new Map<string, FakeRepo>();
  readonly seen: Seen[] = [];
  /** Stop sending `path`'s body after this many bytes (the connection stays open). */
  stall: { path: string; after: number } | null = null;
  /** Flip a byte of `path`'s body (its ETag stays the honest one). */
  corrupt: string | null = null;
  /** Milliseconds between 64 kB chunks of every body. */
  slowMs = 0;
  private server = http.createServer((req, res) => this.handle(req, res));
  url = "";

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Requests that fetched file bodies (not the 1-byte probes @huggingface/hub makes for size and ETag). */
  bodyRequests(): Seen[] {
    return this.seen.filter((s) => s.url.includes("/resolve/") && s.range !== "bytes=0-0");
  }

  private json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { "Content-Type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    this.seen.push({ method: req.method ?? "", url: url.pathname, range: req.headers.range, auth: req.headers.authorization });
    // /api/models/OWNER/NAME/revision/REV
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(url.pathname);
    if (m) {
      const repo = this.repos.get(m[1]);
      if (!repo) return this.json(res, 404, { error: "Repository not found" }, { "X-Error-Code": "RepoNotFound" });
      if (!this.authorized(repo, req)) return this.json(res, 401, { error: "Access to model is restricted. You must have access to it and be authenticated to access it." }, { "X-Error-Code": "GatedRepo" });
      const rev = decodeURIComponent(m[2]);
      if (rev !== "main" && rev !== "HEAD" && rev !== repo.commit) return this.json(res, 404, { error: "Invalid rev id" }, { "X-Error-Code": "RevisionNotFound" });
      return this.json(res, 200, {
        _id: "fake",
        id: m[1],
        sha: repo.commit,
        private: false,
        gated: repo.token ? "manual" : false,
        downloads: 0,
        likes: 0,
        lastModified: "2026-01-01T00:00:00.000Z",
        siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })),
      });
    }
    // /OWNER/NAME/resolve/REV/PATH
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (m) {
      const repo = this.repos.get(m[1]);
      if (!repo) return this.json(res, 404, { error: "Repository not found" }, { "X-Error-Code": "RepoNotFound" });
      if (!this.authorized(repo, req)) return this.json(res, 401, { error: "Access restricted" }, { "X-Error-Code": "GatedRepo" });
      const rev = decodeURIComponent(m[2]);
      const file = decodeURIComponent(m[3]);
      const content = repo.files.get(file);
      if ((rev !== "main" && rev !== repo.commit) || !content) return this.json(res, 404, { error: "Entry not found" }, { "X-Error-Code": "EntryNotFound" });
      return this.sendFile(req, res, repo, file, content);
    }
    this.json(res, 404, { error: "not found" });
  }

  private authorized(repo: FakeRepo, req: http.IncomingMessage): boolean {
    return !repo.token || req.headers.authorization === `Bearer ${repo.token}`;
  }

  private sendFile(req: http.IncomingMessage, res: http.ServerResponse, repo: FakeRepo, file: string, content: Buffer): void {
    const etag = etagOf(file, content);
    const lfs = /^[0-9a-f]{64}$/.test(etag);
    const headers: Record<string, string> = {
      "X-Repo-Commit": repo.commit,
      ETag: `"${etag}"`,
      ...(lfs ? { "X-Linked-ETag": `"${etag}"`, "X-Linked-Size": String(content.length) } : {}),
      "Accept-Ranges": "bytes",
      "Content-Type": "application/octet-stream",
    };
    let start = 0;
    let end = content.length - 1;
    let status = 200;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    if (range) {
      start = Number(range[1]);
      end = range[2] === "" ? content.length - 1 : Math.min(Number(range[2]), content.length - 1);
      if (start >= content.length) {
        res.writeHead(416, { "Content-Range": `bytes */${content.length}` });
        return void res.end();
      }
      status = 206;
      headers["Content-Range"] = `bytes ${start}-${end}/${content.length}`;
    }
    let body = content.subarray(start, end + 1);
    if (this.corrupt === file && body.length > 1) {
      body = Buffer.from(body);
      body[body.length >> 1] ^= 0xff;
    }
    headers["Content-Length"] = String(body.length);
    res.writeHead(status, headers);
    if (req.method === "HEAD") return void res.end();
    const stallAt = this.stall && this.stall.path === file ? Math.max(0, this.stall.after - start) : Infinity;
    const CHUNK = 64 * 1024;
    let pos = 0;
    const pump = () => {
      while (pos < body.length) {
        if (pos >= stallAt) return; // never finish: the client sees a stalled connection
        const n = Math.min(CHUNK, body.length - pos, stallAt - pos);
        const ok = res.write(body.subarray(pos, pos + n));
        pos += n;
        if (this.slowMs > 0) return void setTimeout(pump, this.slowMs);
        if (!ok) return void res.once("drain", pump);
      }
      res.end();
    };
    pump();
  }
}
