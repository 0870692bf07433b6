/**
 * The Drizzle schema: the one description of every table, one file per area under schema/.
 * `npm run migrations:generate` turns changes there into SQL under migrations/, which start-up
 * applies; a test fails when the two disagree.
 */
export * from "./schema/accounts.ts";
export * from "./schema/rooms.ts";
export * from "./schema/media.ts";
export * from "./schema/polls-calendar.ts";
export * from "./schema/everyday.ts";
export * from "./schema/federation.ts";
