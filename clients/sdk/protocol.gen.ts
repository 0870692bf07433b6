/* Generated from protocol/ by scripts/generate.ts (npm run generate). Do not edit. */

/**
 * A user's id: '@', the username, ':', and the name of the user's home server.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "UserId".
 */
export type UserId = string;
/**
 * A device's id, unique on its server. Each login creates one device.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "DeviceId".
 */
export type DeviceId = string;
/**
 * Milliseconds since the Unix epoch.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Timestamp".
 */
export type Timestamp = number;
/**
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "DisplayName".
 */
export type DisplayName = string;
/**
 * The answer to one request: `ok: true` with a `result`, or `ok: false` with an `error`. A frame the server could not read at all is answered with `id: null`.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Reply".
 */
export type Reply =
  | {
      id: string | number;
      ok: true;
      result: {};
    }
  | {
      id: string | number | null;
      ok: false;
      error: ErrorBody;
    };

/**
 * Every op, push and HTTP endpoint of the Parley protocol. Generated from protocol/ by scripts/generate.ts: do not edit.
 */
export interface Protocol {
  ops: {
    auth: {
      params: {
        token: string;
      };
      result: {
        userId: UserId;
        deviceId: DeviceId;
        sessionId: string;
        expiresAt: Timestamp;
      };
    };
    "device.list": {
      params: {};
      result: {
        devices: Device[];
      };
    };
    "device.revoke": {
      params: {
        deviceId: DeviceId;
      };
      result: {
        revoked: DeviceId;
      };
    };
    ping: {
      params: {};
      result: {
        time: Timestamp;
      };
    };
    "profile.get": {
      params: {
        userId?: UserId;
      };
      result: Profile;
    };
    "profile.update": {
      params: {
        displayName?: DisplayName;
        about?: string;
        avatar?: string | null;
      };
      result: Profile;
    };
    "session.info": {
      params: {};
      result: {
        userId: UserId;
        deviceId: DeviceId;
        sessionId: string;
        server: string;
        expiresAt: Timestamp;
        /**
         * True for a server administrator.
         */
        isAdmin: boolean;
      };
    };
  };
  pushes: {
    "profile.updated": Profile;
    "session.revoked": {
      reason: "revoked" | "logout" | "password_changed" | "refresh_token_reused" | "account_disabled";
    };
  };
  http: {
    "auth.login": {
      request?: {
        username: string;
        password: string;
        deviceName?: string;
      };
      response: Session;
    };
    "auth.logout": {
      response: {
        loggedOut: true;
      };
    };
    "auth.password": {
      request?: {
        currentPassword: string;
        newPassword: string;
      };
      response: {
        revokedDevices: number;
      };
    };
    "auth.refresh": {
      request?: {
        refreshToken: string;
      };
      response: Session;
    };
    "auth.register": {
      request?: {
        username: string;
        password: string;
        displayName?: DisplayName;
        deviceName?: string;
        registrationToken?: string;
      };
      response: Session;
    };
    discovery: {
      response: {
        server: string;
        software: {
          name: string;
          version: string;
        };
        versions: string[];
        endpoints: {
          client: string;
          websocket: string;
          keys: string;
        };
        registration: "open" | "invite-only" | "closed";
        limits: {
          frameBytes: number;
          messageChars: number;
          uploadBytes: number;
          wsOpsPerSecond: number;
          wsOpsBurst: number;
          httpRequestsPerMinute: number;
        };
      };
    };
    healthz: {
      response: {
        status: "ok";
      };
    };
    keys: {
      response: {
        server: string;
        keys: {
          kty: "OKP";
          crv: "Ed25519";
          x: string;
          kid: string;
          alg?: "EdDSA";
          use?: "sig";
          validFrom: Timestamp;
          /**
           * When the key was retired; null while it is current.
           */
          validUntil: number | null;
        }[];
      };
    };
    readyz: {
      response: {
        status: "ready" | "unavailable";
      };
    };
  };
}
/**
 * One of the user's devices (one per login).
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Device".
 */
export interface Device {
  deviceId: DeviceId;
  name: string;
  createdAt: Timestamp;
  lastSeenAt: Timestamp;
  /**
   * True for the device that asked.
   */
  current: boolean;
}
/**
 * A user's public profile.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Profile".
 */
export interface Profile {
  userId: UserId;
  displayName: string;
  about: string;
  /**
   * A media reference, or null.
   */
  avatar: string | null;
}
/**
 * Tokens for one device. The access token is a short-lived bearer token for HTTP and the WebSocket; the refresh token is single-use and gets a new pair from /auth/refresh.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Session".
 */
export interface Session {
  userId: UserId;
  deviceId: DeviceId;
  accessToken: string;
  accessTokenExpiresAt: Timestamp;
  refreshToken: string;
  refreshTokenExpiresAt: Timestamp;
}
/**
 * A coded error. `code` is stable and machine-readable; `message` is for people.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "ErrorBody".
 */
export interface ErrorBody {
  /**
   * One of the codes of the error catalogue.
   */
  code: string;
  message: string;
  /**
   * Extra facts for some codes, such as the schema path that failed.
   */
  details?: {};
}
/**
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Empty".
 */
export interface Empty {}
/**
 * A request from the client. `id` is chosen by the client and echoed in the reply; `params` is checked against the op's schema.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Request".
 */
export interface Request {
  /**
   * Client-chosen request id, unique among the client's requests in flight.
   */
  id: string | number;
  op: string;
  params?: {};
}
/**
 * A frame the server sends on its own: `push` names it, `data` follows the push's schema.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Push".
 */
export interface Push {
  push: string;
  data: {};
}
