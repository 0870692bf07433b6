import { pino, type Logger, type LoggerOptions } from "pino";

/**
 * Paths that must never reach a log line: credentials in headers and bodies, and tokens in any
 * object we log. pino replaces them with "[redacted]".
 */
export const redactPaths = [
  "req.headers.authorization",
  "req.headers.cookie",
  "req.headers[\"sec-websocket-protocol\"]",
  "headers.authorization",
  "*.password",
  "*.newPassword",
  "*.currentPassword",
  "*.accessToken",
  "*.refreshToken",
  "*.token",
  "password",
  "accessToken",
  "refreshToken",
  "token",
];

/**
 * Invite tokens travel in URL paths (the shared link `/join/<token>`, the invite API
 * `/api/v1/invites/<token>/...`): anyone who reads a log line with one could join the room. The
 * request serializer therefore logs those paths with the token replaced, like the header tokens.
 */
export function redactUrl(url: string): string {
  return url.replace(/^(\/join\/|\/api\/v1\/invites\/)[^/?#]+/, "$1[redacted]");
}

/** Fastify's request serializer (method, url, host, address), with invite tokens redacted. */
function serializeRequest(req: { method?: string; url?: string; host?: string; ip?: string; socket?: { remotePort?: number } }) {
  return {
    method: req.method,
    url: typeof req.url === "string" ? redactUrl(req.url) : req.url,
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: redactPaths, censor: "[redacted]" },
    serializers: { req: serializeRequest },
    base: { service: "parley" },
  };
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}

export type { Logger };
