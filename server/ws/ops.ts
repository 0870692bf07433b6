import type { ValidateFunction } from "ajv";
import type { Actor } from "../accounts/service.ts";
import type { Protocol } from "../../protocol/index.ts";
import type { Connection } from "./connection.ts";

export interface OpContext {
  /** The authenticated actor; ops that run before authentication (only `auth`) get null. */
  actor: Actor;
  connection: Connection;
}

export type OpHandler<P = any, R = unknown> = (ctx: OpContext, params: P) => R | Promise<R>;

export interface OpDefinition {
  name: string;
  requiresAuth: boolean;
  validateParams: ValidateFunction;
  handler: OpHandler;
}

/**
 * The op dispatch table. Each op must have its schema in protocol/ops; its params are validated
 * against that schema before the handler runs, so handlers only see well-formed input.
 */
export class OpRegistry {
  private readonly ops = new Map<string, OpDefinition>();

  constructor(private readonly protocol: Protocol) {}

  define<P = any, R = unknown>(name: string, handler: OpHandler<P, R>): void {
    const doc = this.protocol.ops.get(name);
    if (!doc) throw new Error(`op ${name} has no schema in protocol/ops`);
    if (this.ops.has(name)) throw new Error(`op ${name} defined twice`);
    this.ops.set(name, {
      name,
      requiresAuth: doc["x-parley"]?.auth !== false,
      validateParams: this.protocol.validator(`op/${name}#/$defs/params`),
      handler: handler as OpHandler,
    });
  }

  get(name: string): OpDefinition | undefined {
    return this.ops.get(name);
  }

  names(): string[] {
    return [...this.ops.keys()].sort();
  }
}
