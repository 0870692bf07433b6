/**
 * The server-admin area of the web client in real Chromium: Dana, made a server admin at the
 * command line, finds it on her rail and uses it: users (search, details, disable and enable, a
 * new password, the server-admin flag, purge), registration tokens (create, revoke),
 * communities (sizes, deactivate) and the server audit log. Bob, not an admin, has no link and
 * is told in words when he opens its address. Each change is read back from the server.
 */
import t from "tap";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { webClientDir } from "../server/web/static.ts";
import type { ParleyClient } from "../clients/sdk/index.ts";
import { parley as runParley } from "./cli-helpers.ts";
import { post, refusal, startServer, unthrottled, type TestServer } from "./helpers.ts";
import { axe, chromiumPath, chromiumThere, launch, person, shot, signIn } from "./web-helpers.ts";

t.setTimeout(300_000);

t.test("the server-admin area and the moderation queue are chunks of their own, not loaded first", async (t) => {
  const dir = join(webClientDir, "assets");
  const html = readFileSync(join(webClientDir, "index.html"), "utf8");
  const entry = /<script[^>]*src="\/assets\/([^"]+)"/.exec(html)![1];
  const entrySource = readFileSync(join(dir, entry), "utf8");
  for (const name of ["ServerAdmin", "Moderation"]) {
    const chunk = readdirSync(dir).filter((f) => f.startsWith(`${name}-`) && f.endsWith(".js"));
    t.equal(chunk.length, 1, `${name} is a chunk of its own`);
    t.notOk(html.includes(chunk[0]), `${name} is not in what index.html loads`);
  }
  t.ok(entrySource.includes(readdirSync(dir).find((f) => f.startsWith("ServerAdmin-"))!), "the entry imports the server-admin area dynamically");
});

if (!chromiumThere) t.fail(`${chromiumPath} is missing: .ci/run installs it (apt-get install -y chromium)`);
else await story();

async function story(): Promise<void> {
  const server: TestServer = await startServer({ ...unthrottled, registration: { policy: "open" } });
  const browser = await launch();
  t.teardown(async () => {
    await browser.close();
    await server.stop(true);
  });
  await server.user("dana");
  const made = await runParley(["user", "make-admin", "dana"], { PARLEY_DATA_DIR: server.dataDir, PARLEY_SERVER_NAME: server.config.server.name });
  if (made.code !== 0) throw new Error(`parley user make-admin dana: ${made.stderr}`);
  const danaSdk = await server.login("dana");
  const alice: ParleyClient = await server.user("alice");
  const bobSdk: ParleyClient = await server.user("bob");
  const spammer: ParleyClient = await server.user("spammer");
  const hillside = (await alice.request("community.create", { name: "Hillside" })).roomId;
  const link = await alice.request("link.create", { roomId: hillside });
  await spammer.request("link.join", { token: link.token });
  await bobSdk.request("link.join", { token: link.token });
  const admin = async (name: string, body: unknown) => (await post(server, `/api/v1/admin/${name}`, body, danaSdk.session.accessToken)).body;
  const userRow = async (username: string) => (await admin("users.list", { query: username })).users.find((u: { username: string }) => u.username === username);

  const dana = await person(browser);
  const page = dana.page;
  page.on("dialog", (d) => void d.accept());
  await page.goto(server.baseUrl);
  await signIn(page, "dana");
  const area = `${server.baseUrl}/me/server-admin`;

  await t.test("users: search, details, disable and enable, a new password, the server-admin flag, purge", async (t) => {
    await page.getByRole("link", { name: "Server admin" }).click();
    await page.getByRole("heading", { name: "Server administration" }).waitFor();
    await page.locator("[data-user='@alice:school.test']").waitFor();
    await axe(t, page, "the server-admin users");
    await shot(page, "web-server-admin");

    await page.getByLabel("Search users (name or username)").fill("bob");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.locator("[data-user='@alice:school.test']").waitFor({ state: "detached" });
    const bob = page.locator(`[data-user='${bobSdk.userId}']`);
    await bob.getByRole("button", { name: /^Details/ }).click();
    await bob.getByText("Hillside").waitFor();
    await axe(t, page, "a user's details");

    await bob.getByRole("button", { name: /^Disable/ }).click();
    await page.locator(`[data-user='${bobSdk.userId}'][data-disabled=true]`).waitFor();
    t.equal((await userRow("bob")).disabled, true, "the server has bob disabled");
    t.equal(await refusal(server.login("bob", { connect: false })), "auth.account_disabled", "bob cannot sign in");
    await bob.getByRole("button", { name: /^Enable/ }).click();
    await page.locator(`[data-user='${bobSdk.userId}'][data-disabled=false]`).waitFor();
    t.equal((await userRow("bob")).disabled, false, "enabled again");

    await bob.getByRole("button", { name: /^Make server admin/ }).click();
    await page.locator(`[data-user='${bobSdk.userId}'][data-admin=true]`).waitFor();
    t.equal((await userRow("bob")).isAdmin, true, "bob is a server admin on the server");
    await bob.getByRole("button", { name: /^Withdraw server admin/ }).click();
    await page.locator(`[data-user='${bobSdk.userId}'][data-admin=false]`).waitFor();
    t.equal((await userRow("bob")).isAdmin, false, "and no longer");

    await bob.getByLabel("New password").fill("a new horse battery staple");
    await bob.getByRole("button", { name: "Set password" }).click();
    await page.getByRole("alert").filter({ hasText: /Password set/ }).waitFor();
    const again = await server.login("bob", { connect: false, password: "a new horse battery staple" });
    t.ok(again.userId === bobSdk.userId, "bob signs in with the new password");

    await page.getByLabel("Search users (name or username)").fill("spammer");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.locator(`[data-user='${spammer.userId}'] button`, { hasText: "Purge" }).click();
    await page.getByRole("alert").filter({ hasText: /was removed from 1 rooms/ }).waitFor();
    const members = (await alice.request("room.members", { roomId: hillside })).members!.map((m) => m.userId);
    t.notOk(members.includes(spammer.userId), "the spammer is out of Hillside");
  });

  await t.test("registration tokens: create one, see it listed, revoke it", async (t) => {
    await page.getByRole("tab", { name: "Registration tokens" }).click();
    await page.getByLabel("Uses").fill("3");
    await page.getByLabel("Expires after (days, empty for never)").fill("7");
    await page.getByRole("button", { name: "Create token" }).click();
    const shown = page.locator("[data-new-token]");
    await shown.waitFor();
    const token = await shown.getAttribute("data-new-token");
    const list = (await admin("registration_tokens.list", {})).tokens as { id: string; usesLeft: number; usable: boolean }[];
    t.equal(list.length, 1, "the server has one token");
    t.match(list[0], { usesLeft: 3, usable: true });
    t.ok(token && token.length > 12, "its secret is shown once");
    await axe(t, page, "the registration tokens");
    await page.getByRole("button", { name: `Revoke: ${list[0].id}` }).click();
    await page.locator(`[data-token='${list[0].id}']`).waitFor({ state: "detached" });
    t.same((await admin("registration_tokens.list", {})).tokens, [], "revoked (deleted) on the server");
  });

  await t.test("communities: their sizes, and deactivating one", async (t) => {
    await page.getByRole("tab", { name: "Communities" }).click();
    const row = page.locator(`[data-community='${hillside}']`);
    await row.getByText(/2 members/).waitFor();
    await axe(t, page, "the communities");
    await row.getByRole("button", { name: "Deactivate: Hillside" }).click();
    await page.locator(`[data-community='${hillside}'][data-deactivated=true]`).waitFor();
    t.equal((await admin("communities.list", {})).communities[0].deactivated, true, "deactivated on the server");
  });

  await t.test("the server audit log lists what dana did", async (t) => {
    await page.getByRole("tab", { name: "Server audit log" }).click();
    await page.locator("[data-audit='community.deactivate']").waitFor();
    for (const action of ["user.disable", "user.enable", "user.purge", "user.reset_password", "user.admin.grant", "user.admin.revoke"]) t.equal(await page.locator(`[data-audit='${action}']`).count() > 0, true, `${action} is in the log`);
    await axe(t, page, "the server audit log");
  });

  await t.test("in Chinese; and bob, not a server admin, has no link and is told in words", async (t) => {
    await page.getByLabel("Language").selectOption("zh-CN");
    await page.getByRole("heading", { name: "服务器管理" }).waitFor();
    await page.getByRole("tab", { name: "用户" }).waitFor();
    await page.getByLabel("语言").selectOption("en");

    const bob = await person(browser);
    await bob.page.goto(server.baseUrl);
    await signIn(bob.page, "bob", "a new horse battery staple");
    await bob.page.getByRole("link", { name: "Saved messages" }).waitFor();
    t.equal(await bob.page.getByRole("link", { name: "Server admin" }).count(), 0, "no server-admin link for bob");
    await bob.page.goto(area);
    await bob.page.getByRole("alert").filter({ hasText: "Only server admins may do this." }).waitFor();
    t.equal((await post(server, "/api/v1/admin/users.list", {}, bobSdk.session.accessToken)).status !== 200, true, "and the server refuses him");
  });
}
