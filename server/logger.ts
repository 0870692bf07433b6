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

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: redactPaths, censor: "[redacted]" },
    base: { service: "parley" },
  };
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}

export type { Logger };
