import { hash, verify } from "@node-rs/argon2";

/** @node-rs/argon2's `Algorithm.Argon2id` (a const enum, which isolated modules cannot import). */
const argon2id = 2;
import { ParleyError } from "../errors.ts";

export interface PasswordCost {
  memoryKib: number;
  timeCost: number;
}

export const minPasswordLength = 8;
export const maxPasswordLength = 1024;

export function checkPasswordPolicy(password: string): void {
  if ([...password].length < minPasswordLength) throw new ParleyError("password.too_weak");
  if (password.length > maxPasswordLength) throw new ParleyError("password.too_long");
}

/** argon2id, with the cost from config (default: OWASP's 19 MiB, 2 passes). */
export function hashPassword(password: string, cost: PasswordCost): Promise<string> {
  return hash(password, { algorithm: argon2id, memoryCost: cost.memoryKib, timeCost: cost.timeCost, parallelism: 1 });
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}
