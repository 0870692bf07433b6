/**
 * A pair's second direct room in the web client, in real Chromium: alice (of a.test) and bob (of
 * b.test) each opened a chat with the other while the other's server was down, so two rooms
 * exist; the one whose id sorts second was closed by its home (room.tombstone). alice, in
 * a.test's web client, sees it marked as moved on the rail and opens it: what was said there is shown, the composer is
 * replaced by a notice that the chat goes on elsewhere, and its link takes her to the pair's chat,
 * where she can write.
 */
import t from "tap";
import { twoRoomsForOnePair } from "./federation/direct-pair.ts";
import { unthrottled, until } from "./helpers.ts";
import { acked, axe, chromiumPath, chromiumThere, launch, person, signIn } from "./web-helpers.ts";

t.setTimeout(300_000);

if (!chromiumThere) t.fail(`${chromiumPath} is missing: .ci/run installs it (apt-get install -y chromium)`);
else {
  t.test("alice opens the closed chat: its words stay, a notice replaces the composer and leads her to the pair's chat", async (t) => {
    const { a, first, second } = await twoRoomsForOnePair(t, () => ({ ...unthrottled }));
    const browser = await launch();
    t.teardown(() => browser.close());
    const { context, page } = await person(browser);
    t.teardown(() => context.close());
    await page.goto(a.baseUrl);
    await signIn(page, "alice");
    await page.locator(`[data-room='${second}'] [data-moved-chat]`).first().waitFor();
    t.equal(await page.locator(`[data-room='${first}'] [data-moved-chat]`).count(), 0, "the rail marks the closed chat as moved, not the pair's");

    await page.goto(`${a.baseUrl}/r/${encodeURIComponent(second)}`);
    const notice = page.locator(`[data-replaced='${first}']`);
    await notice.waitFor();
    t.match(await notice.textContent(), /goes on in the other one/, "the notice says the chat goes on elsewhere");
    const said = second.endsWith(":a.test") ? "Are you coming on Friday?" : "Shall we share a car?";
    await page.getByRole("log").getByText(said).waitFor();
    t.pass("what was said in the closed chat is shown");
    t.equal(await page.getByLabel("Message", { exact: true }).count(), 0, "no composer in the closed chat");
    await axe(t, page, "a closed (replaced) direct chat");

    await notice.getByRole("link", { name: "Go to the chat" }).click();
    await page.waitForURL((url) => url.pathname === `/r/${encodeURIComponent(first)}`);
    const box = page.getByLabel("Message", { exact: true });
    await box.waitFor();
    await box.fill("Here, then");
    await page.keyboard.press("Enter");
    // The message as the server acknowledged it (a pending copy may still be shown beside it).
    await acked(page, "Here, then").waitFor();
    const held = a.app.parley.storage.sqlite.prepare("SELECT sender FROM messages WHERE room_id = ? AND body = 'Here, then'");
    await until(t, "a holds alice's message in the pair's chat", () => held.get(first) !== undefined);
    t.same(held.get(first), { sender: "@alice:a.test" }, "alice writes in the pair's chat");
  });
}
