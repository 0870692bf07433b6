/** WebSocket close codes the server uses; documented in docs/protocol.md. */
export const CloseCode = {
  /** The server is shutting down; reconnect with backoff. */
  goingAway: 1001,
  /** A frame broke RFC 6455 (unmasked, reserved opcode or bits, bad length): the ws library closes with this. */
  protocolError: 1002,
  /** A text frame was not UTF-8: the ws library closes with this. */
  invalidPayload: 1007,
  /** A frame exceeded the hard size cap (the ws library closes with this). */
  tooBig: 1009,
  /** Too many invalid frames: the client is not speaking the protocol. */
  protocolViolation: 4000,
  /** No valid `auth` in time, or the token presented was invalid. */
  authFailed: 4001,
  /** The access token expired and was not renewed with `auth`. */
  tokenExpired: 4002,
  /** The device's session was revoked (device.revoke, logout, password change, token theft). */
  sessionRevoked: 4003,
  /** The client kept sending past its rate limit. */
  rateLimited: 4008,
  /** The client read too slowly and its send buffer filled: reconnect and resync. */
  slowConsumer: 4009,
} as const;
