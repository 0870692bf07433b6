/**
 * Username rules: how a name is normalised (so that every lookup agrees), which names are valid,
 * which are reserved, and how a user id carries its server's name.
 */
import t from "tap";
import { ParleyError } from "../server/errors.ts";
import { normaliseUsername, parseUserId, reservedUsernames, userIdOf, validateUsername } from "../server/accounts/usernames.ts";

/** The error code validateUsername throws for a name, or null when the name is accepted. */
function refusalOf(name: string): string | null {
  try {
    validateUsername(name);
    return null;
  } catch (err) {
    if (err instanceof ParleyError) return err.code;
    throw err;
  }
}

t.test("a username is trimmed and lower-cased", async (t) => {
  t.equal(normaliseUsername("  Alice \t"), "alice");
  t.equal(normaliseUsername("BOB.Smith"), "bob.smith");
});

t.test("a username is folded with Unicode NFKC, so compatibility look-alikes become one name", async (t) => {
  t.equal(normaliseUsername("ａｌｉｃｅ"), "alice", "fullwidth letters");
  t.equal(normaliseUsername("Ａｌｉｃｅ"), "alice", "fullwidth capitals fold case too");
  t.equal(normaliseUsername("ﬁona"), "fiona", "the fi ligature");
  t.equal(normaliseUsername("carol²"), "carol2", "a superscript digit");
  t.equal(validateUsername("ＡＬＩＣＥ"), "alice", "validation returns the normalised name");
});

t.test("a login may give the full user id of this server instead of the bare name", async (t) => {
  t.equal(normaliseUsername("@alice:school.example", "school.example"), "alice");
  t.equal(normaliseUsername(" @Alice:School.Example ", "school.example"), "alice", "normalised before the server part is matched");
  t.equal(normaliseUsername("@alice:other.example", "school.example"), "@alice:other.example", "another server's id is left alone, so it matches no local account");
  t.equal(normaliseUsername("@alice:school.example"), "@alice:school.example", "without a server name nothing is stripped");
});

t.test("valid usernames are 3 to 32 letters, digits, dots, underscores and hyphens", async (t) => {
  for (const name of ["alice", "bob", "carol.smith", "dan_2", "eve-o", "a12", "7ofnine", "x".repeat(32)]) {
    t.equal(validateUsername(name), name, `${JSON.stringify(name)} is accepted`);
  }
});

t.test("malformed usernames are refused with username.invalid", async (t) => {
  const cases: [string, string][] = [
    ["", "empty"],
    ["ab", "too short"],
    ["x".repeat(33), "too long"],
    ["_alice", "starts with punctuation"],
    [".alice", "starts with a dot"],
    ["al ice", "contains a space"],
    ["alice!", "contains '!'"],
    ["ali..ce", "two dots in a row"],
    ["ali._ce", "two punctuation marks in a row"],
    ["élodie", "a letter outside a-z"],
    ["алиса", "Cyrillic"],
    ["@alice:school.example", "a full user id is not a username"],
  ];
  for (const [name, why] of cases) t.equal(refusalOf(name), "username.invalid", `${JSON.stringify(name)}: ${why}`);
});

t.test("reserved names are refused with username.reserved, whatever their case or width", async (t) => {
  for (const name of ["admin", "Admin", "ADMINISTRATOR", "ａｄｍｉｎ", " root ", "everyone", "here", "parley", "noreply", "no-reply"]) {
    t.equal(refusalOf(name), "username.reserved", `${JSON.stringify(name)} is reserved`);
  }
  t.equal(refusalOf("admins"), null, "a longer name that merely starts with one is fine");
  for (const name of reservedUsernames) t.equal(refusalOf(name), name.length < 3 ? "username.invalid" : "username.reserved", `${name}`);
});

t.test("a user id is '@', the username, ':' and the server name", async (t) => {
  t.equal(userIdOf("alice", "school.example"), "@alice:school.example");
  t.same(parseUserId("@alice:school.example"), { username: "alice", server: "school.example" });
  t.same(parseUserId("@bob:school.example:8448"), { username: "bob", server: "school.example:8448" }, "a server name may carry a port");
  t.same(parseUserId(userIdOf("carol.smith", "club.example")), { username: "carol.smith", server: "club.example" }, "it round-trips");
});

t.test("parseUserId answers null for what is not a user id", async (t) => {
  for (const id of ["alice", "@alice", "alice:school.example", "@:school.example", "@alice:", ""]) {
    t.equal(parseUserId(id), null, JSON.stringify(id));
  }
});
