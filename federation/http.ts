/**
 * The HTTP client of signed server-to-server requests: Node's own http and https modules on
 * keep-alive agents. Not the global fetch: its WHATWG streams cost a few hundred microseconds of
 * CPU per request, which on federation's hot path (a request per batch, both ways) was a
 * measurable share of a server's time (docs/architecture.md). Not the `undici` package either:
 * importing it installs its own agent as the process-wide dispatcher of Node's fetch, which every
 * other fetch of the server (Web Push, key discovery, tests) would then go through.
 */
import http from "node:http";
import https from "node:https";

export interface RawResponse {
  status: number;
  text: string;
  retryAfter: string | null;
}

export interface RawRequest {
  method: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** The whole exchange, connection to the answer's last byte. */
  timeoutMs: number;
}

/** The most a peer's answer may hold; a longer one is cut off as a failure. */
export const maxResponseBytes = 16 * 1024 * 1024;

/** A client with its own keep-alive connections (one per federation service, so per server). */
export function createHttpClient() {
  const agents = {
    http: new http.Agent({ keepAlive: true }),
    https: new https.Agent({ keepAlive: true }),
  };

  function once(url: string, opts: RawRequest): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const target = new URL(url);
      const secure = target.protocol === "https:";
      const headers = opts.body ? { ...opts.headers, "content-length": String(opts.body.length) } : opts.headers;
      const req = (secure ? https : http).request(target, { method: opts.method, headers, agent: secure ? agents.https : agents.http }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxResponseBytes) req.destroy(new Error(`the answer is larger than ${maxResponseBytes} bytes`));
          else chunks.push(chunk);
        });
        res.on("end", () => {
          clearTimeout(timer);
          const ra = res.headers["retry-after"];
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), retryAfter: (Array.isArray(ra) ? ra[0] : ra) ?? null });
        });
        res.on("error", fail);
      });
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
      function fail(err: Error): void {
        clearTimeout(timer);
        reject(Object.assign(err, { reusedSocket: req.reusedSocket }));
      }
      req.on("error", fail);
      req.end(opts.body);
    });
  }

  return {
    /**
     * Sends one request and reads its whole answer as text. Rejects on a connection failure, on
     * `timeoutMs` passing before the answer is read, and on an answer over maxResponseBytes.
     */
    send(url: string, opts: RawRequest): Promise<RawResponse> {
      return once(url, opts).catch((err: Error & { code?: string; reusedSocket?: boolean }) => {
        // A kept-alive connection the peer closed while idle, just as it was reused: the request
        // never reached the peer, so it is sent again, once, on a new connection (as Node's
        // documentation of `request.reusedSocket` advises).
        if (err.reusedSocket && (err.code === "ECONNRESET" || err.code === "EPIPE")) return once(url, opts);
        throw err;
      });
    },
    /** Closes its connections (at shutdown). */
    close(): void {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
