/**
 * Reads of a room hosted elsewhere that its copy here cannot answer, in the web client, in real
 * Chromium, with two federating servers on loopback. alice (of a.test) owns the group Maths and
 * made carol (of a.test) an admin; bob (of b.test) joined while a's delivery to b was held back,
 * alice made him an admin and said twenty things; then b.test got Maths's snapshot and its last
 * few events only.
 *
 * - bob searches Maths from b.test's web client: the results are a.test's search on his behalf,
 *   all twenty; his audit log of Maths is a.test's, with both role changes.
 * - a.test goes down: the search shows what b.test holds and says older messages may be
 *   missing; so does the audit log.
 * Every check reads back what the servers answer.
 */
import t from "tap";
import type { ParleyClient } from "../clients/sdk/index.ts";
import { startCluster } from "./federation/cluster.ts";
import { unthrottled, type TestServer } from "./helpers.ts";
import { joinSnapshot } from "../federation/outbox.ts";
import { axe, chromiumPath, chromiumThere, launch, person, signIn } from "./web-helpers.ts";

t.setTimeout(300_000);
// Short tails keep the test small: a room longer than 5 events is joined by snapshot.
joinSnapshot.tailEvents = 5;

if (!chromiumThere) t.fail(`${chromiumPath} is missing: .ci/run installs it (apt-get install -y chromium)`);
else await story();

async function story(): Promise<void> {
  const servers = await startCluster(["a.test", "b.test"], () => ({ ...unthrottled }));
  const browser = await launch();
  t.teardown(async () => {
    await browser.close();
    for (const s of Object.values(servers)) await s.stop(true).catch(() => undefined);
  });
  const a: TestServer = servers["a.test"];
  const b: TestServer = servers["b.test"];
  const alice: ParleyClient = await a.user("alice");
  const carol: ParleyClient = await a.user("carol");
  const bobSdk: ParleyClient = await b.user("bob");
  const maths = (await alice.request("group.create", { name: "Maths" })).roomId as string;
  const { token } = await alice.request("link.create", { roomId: maths });
  await carol.request("link.join", { token });
  await alice.request("member.role", { roomId: maths, userId: carol.userId, role: "admin" });
  // a's delivery to b held back (as after failures) while bob joins and the room moves on.
  a.app.parley.storage.sqlite.prepare("INSERT INTO federation_peers (server, failures, next_attempt_at) VALUES ('b.test', 1, ?)").run(Date.now() + 3_600_000);
  await bobSdk.request("link.join", { token, server: "a.test" });
  await alice.request("member.role", { roomId: maths, userId: bobSdk.userId, role: "admin" });
  const said: number[] = [];
  for (let i = 1; i <= 20; i++) said.push((await alice.request("message.send", { roomId: maths, txnId: `m${i}`, body: `after bob ${i}` })).event.seq);
  await b.app.parley.federation.request("a.test", "POST", "/wake", {});
  const head = a.app.parley.rooms.state(maths)!.seq;
  for (let i = 0; i < 2400 && b.app.parley.rooms.state(maths)?.seq !== head; i++) await new Promise((r) => setTimeout(r, 25));
  const heldFrom = (b.app.parley.storage.sqlite.prepare("SELECT min(seq) AS seq FROM room_events WHERE room_id = ?").get(maths) as { seq: number }).seq;

  const bob = await person(browser);
  const page = bob.page;
  await page.goto(b.baseUrl);
  await signIn(page, "bob");
  const hits = page.locator("[data-hit]");
  const shownHits = () => hits.evaluateAll((els) => els.map((e) => e.getAttribute("data-hit")));
  /** Runs the search form for "after bob" in Maths; resolves once the status line shows `n` results. */
  async function searchMaths(n: number) {
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByRole("status").filter({ hasText: `${n} results` }).waitFor();
  }

  await t.test("bob searches Maths in b.test's web client and finds all twenty, b.test holding only the last few: a.test searched on his behalf", async (t) => {
    t.ok(heldFrom > said[0], `b.test holds Maths from seq ${heldFrom} on`);
    await page.getByRole("link", { name: "Search messages" }).click();
    await page.getByLabel("Search for").fill("after bob");
    await page.getByRole("search").locator("select").selectOption({ label: "Maths" });
    await searchMaths(20);
    t.same(await shownHits(), [...said].reverse().map((s) => `${maths}/${s}`), "every message alice said to him, newest first");
    t.equal(await page.locator(".x-incomplete").count(), 0, "nothing is said to be missing");
    await axe(t, page, "a search of a room hosted elsewhere");
  });

  await t.test("bob's audit log of Maths is a.test's: both role changes, though b.test's copy began after them", async (t) => {
    await page.goto(`${b.baseUrl}/admin/${encodeURIComponent(maths)}`);
    await page.getByRole("tab", { name: "Audit log" }).click();
    await page.locator("tr[data-audit='member.role']").nth(1).waitFor();
    t.equal(await page.locator("tr[data-audit='member.role']").count(), 2);
    t.equal(await page.locator(".x-incomplete").count(), 0);
  });

  await t.test("with a.test down, the search and the audit log show what b.test holds and say older ones may be missing", async (t) => {
    await a.stop(false);
    await page.getByRole("link", { name: "Search messages" }).click();
    await page.getByLabel("Search for").fill("after bob");
    await page.getByRole("search").locator("select").selectOption({ label: "Maths" });
    const held = said.filter((s) => s >= heldFrom);
    await searchMaths(held.length);
    t.same(await shownHits(), [...held].reverse().map((s) => `${maths}/${s}`), "what b.test holds");
    await page.locator(".x-incomplete").filter({ hasText: "older messages may be missing" }).waitFor();
    await axe(t, page, "an incomplete search");
    await page.goto(`${b.baseUrl}/admin/${encodeURIComponent(maths)}`);
    await page.getByRole("tab", { name: "Audit log" }).click();
    await page.locator(".x-incomplete").filter({ hasText: "older ones may be missing" }).waitFor();
    t.equal(await page.locator("tr[data-audit]").count(), 0, "b.test holds no entry of Maths");
    await axe(t, page, "an incomplete audit log");
  });
}
