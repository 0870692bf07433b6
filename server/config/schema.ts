/**
 * JSON Schema of the configuration file. Every key has a default here, so a missing file or a
 * missing section means "the embedded default". config.example.toml documents the same keys; a
 * test checks that the two agree.
 */
import { serverNamePattern } from "../names.ts";

export const configSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    server: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        name: { type: "string", pattern: serverNamePattern, minLength: 1, maxLength: 255, default: "localhost" },
        public_url: { type: "string", pattern: "^(https?://.+)?$", default: "" },
        trust_proxy: { type: "boolean", default: false },
      },
    },
    listen: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        host: { type: "string", minLength: 1, default: "127.0.0.1" },
        port: { type: "integer", minimum: 0, maximum: 65535, default: 8080 },
      },
    },
    storage: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        data_dir: { type: "string", minLength: 1, default: "./data" },
      },
    },
    registration: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        policy: { enum: ["open", "invite-only", "closed"], default: "open" },
      },
    },
    tokens: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        access_ttl_seconds: { type: "integer", minimum: 30, maximum: 86400, default: 900 },
        refresh_ttl_days: { type: "integer", minimum: 1, maximum: 365, default: 30 },
      },
    },
    passwords: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        memory_kib: { type: "integer", minimum: 1024, maximum: 1048576, default: 19456 },
        time_cost: { type: "integer", minimum: 1, maximum: 10, default: 2 },
      },
    },
    limits: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        frame_bytes: { type: "integer", minimum: 1024, maximum: 16777216, default: 65536 },
        message_chars: { type: "integer", minimum: 1, maximum: 65536, default: 4096 },
        upload_bytes: { type: "integer", minimum: 1024, default: 104857600 },
        http_requests_per_minute: { type: "integer", minimum: 1, default: 600 },
        registrations_per_minute: { type: "integer", minimum: 1, default: 20 },
        ws_ops_per_second: { type: "integer", minimum: 1, default: 50 },
        ws_ops_burst: { type: "integer", minimum: 1, default: 200 },
        ws_send_buffer_bytes: { type: "integer", minimum: 65536, default: 4194304 },
        ws_auth_timeout_seconds: { type: "integer", minimum: 1, maximum: 300, default: 10 },
        ws_heartbeat_seconds: { type: "integer", minimum: 1, maximum: 3600, default: 30 },
        ws_invalid_frames_before_close: { type: "integer", minimum: 1, default: 10 },
        login_failures_per_account: { type: "integer", minimum: 1, default: 10 },
        login_failures_per_address: { type: "integer", minimum: 1, default: 50 },
        login_failure_window_seconds: { type: "integer", minimum: 1, default: 900 },
      },
    },
    rooms: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        groups_per_community: { type: "integer", minimum: 1, default: 100 },
        members_per_group: { type: "integer", minimum: 2, default: 1024 },
        members_per_community: { type: "integer", minimum: 2, default: 5000 },
        admins_per_community: { type: "integer", minimum: 1, default: 20 },
        delete_for_everyone_seconds: { type: "integer", minimum: 0, default: 172800 },
      },
    },
    direct: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        open_to: { enum: ["community", "server"], default: "community" },
      },
    },
    media: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        user_quota_bytes: { type: "integer", minimum: 0, default: 1073741824 },
        blocked_types: {
          type: "array",
          items: { type: "string" },
          default: ["application/x-msdownload", "application/x-elf", "application/x-mach-binary", "application/x-sharedlib", "application/vnd.microsoft.portable-executable"],
        },
        gc_grace_seconds: { type: "integer", minimum: 0, default: 86400 },
        preview_pixels: { type: "integer", minimum: 32, maximum: 2048, default: 320 },
      },
    },
    push: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        ttl_seconds: { type: "integer", minimum: 0, maximum: 2419200, default: 86400 },
        retry_delays_ms: { type: "array", items: { type: "integer", minimum: 0, maximum: 3600000 }, maxItems: 5, default: [5000, 30000] },
        allow_http_endpoints: { type: "boolean", default: false },
      },
    },
    timeouts: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        headers_seconds: { type: "integer", minimum: 1, maximum: 600, default: 20 },
        request_seconds: { type: "integer", minimum: 1, maximum: 86400, default: 300 },
        upload_idle_seconds: { type: "integer", minimum: 1, maximum: 3600, default: 30 },
        keep_alive_seconds: { type: "integer", minimum: 1, maximum: 600, default: 5 },
      },
    },
    metrics: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        // "host:port" ("[::1]:9464" for IPv6), or empty for no listener of its own.
        listen: { type: "string", pattern: "^(\\S+:[0-9]{1,5})?$", default: "" },
        // Empty, or a secret of at least 24 characters: a short one could be guessed.
        token: { type: "string", pattern: "^(\\S{24,})?$", default: "" },
      },
    },
    federation: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: "boolean", default: true },
        peers: { type: "object", additionalProperties: { type: "string", pattern: "^https?://[^/]+(/.*)?$" }, default: {} },
        allow_plain_http: { type: "boolean", default: false },
        allow: { type: "array", items: { type: "string", pattern: serverNamePattern }, default: [] },
        deny: { type: "array", items: { type: "string", pattern: serverNamePattern }, default: [] },
        clock_skew_seconds: { type: "integer", minimum: 10, maximum: 3600, default: 300 },
        key_cache_seconds: { type: "integer", minimum: 1, maximum: 86400, default: 3600 },
        unknown_key_cache_seconds: { type: "integer", minimum: 0, maximum: 3600, default: 60 },
      },
    },
    log: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        level: { enum: ["fatal", "error", "warn", "info", "debug", "trace", "silent"], default: "info" },
      },
    },
  },
} as const;

export interface Config {
  server: { name: string; public_url: string; trust_proxy: boolean };
  listen: { host: string; port: number };
  storage: { data_dir: string };
  registration: { policy: "open" | "invite-only" | "closed" };
  tokens: { access_ttl_seconds: number; refresh_ttl_days: number };
  passwords: { memory_kib: number; time_cost: number };
  limits: {
    frame_bytes: number;
    message_chars: number;
    upload_bytes: number;
    http_requests_per_minute: number;
    registrations_per_minute: number;
    ws_ops_per_second: number;
    ws_ops_burst: number;
    ws_send_buffer_bytes: number;
    ws_auth_timeout_seconds: number;
    ws_heartbeat_seconds: number;
    ws_invalid_frames_before_close: number;
    login_failures_per_account: number;
    login_failures_per_address: number;
    login_failure_window_seconds: number;
  };
  rooms: {
    groups_per_community: number;
    members_per_group: number;
    members_per_community: number;
    admins_per_community: number;
    delete_for_everyone_seconds: number;
  };
  direct: { open_to: "community" | "server" };
  media: { user_quota_bytes: number; blocked_types: string[]; gc_grace_seconds: number; preview_pixels: number };
  push: { ttl_seconds: number; retry_delays_ms: number[]; allow_http_endpoints: boolean };
  timeouts: { headers_seconds: number; request_seconds: number; upload_idle_seconds: number; keep_alive_seconds: number };
  metrics: { listen: string; token: string };
  federation: {
    enabled: boolean;
    /** Server name -> base URL, instead of discovery (tests, private networks). */
    peers: Record<string, string>;
    allow_plain_http: boolean;
    allow: string[];
    deny: string[];
    clock_skew_seconds: number;
    key_cache_seconds: number;
    unknown_key_cache_seconds: number;
  };
  log: { level: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent" };
}
