/**
 * Remote avatars in the web client, in real Chromium: bob on b.test has an avatar; carol, signed
 * in to the web client of c.test, opens bob's profile and sees his picture, downloaded from her
 * own server (which fetched it from b), exactly where a local user's avatar shows.
 */
import t from "tap";
import sharp from "sharp";
import { startCluster } from "./federation/cluster.ts";
import { unthrottled } from "./helpers.ts";
import { axe, chromiumPath, chromiumThere, launch, person, signIn } from "./web-helpers.ts";

t.setTimeout(300_000);

if (!chromiumThere) t.fail(`${chromiumPath} is missing: .ci/run installs it (apt-get install -y chromium)`);
else await story();

async function story(): Promise<void> {
  const servers = await startCluster(["b.test", "c.test"], () => ({ ...unthrottled }));
  const { "b.test": b, "c.test": c } = servers;
  const browser = await launch();
  t.teardown(async () => {
    await browser.close();
    for (const s of Object.values(servers)) await s.stop(true);
  });
  const bob = await b.user("bob");
  await c.user("carol");
  const bytes = await sharp({ create: { width: 48, height: 48, channels: 3, background: { r: 30, g: 140, b: 90 } } }).png().toBuffer();
  const res = await fetch(`${b.baseUrl}/api/v1/media?name=bob.png`, { method: "POST", headers: { authorization: `Bearer ${bob.session.accessToken}`, "content-type": "application/octet-stream" }, body: new Uint8Array(bytes) });
  const { mediaId } = (await res.json()) as { mediaId: string };
  await bob.request("profile.update", { displayName: "Bob", avatar: mediaId });

  await t.test("carol on c opens bob's profile (of b) and sees his avatar, downloaded through c", async (t) => {
    const carol = await person(browser);
    await carol.page.goto(c.baseUrl);
    await signIn(carol.page, "carol");
    await carol.page.goto(`${c.baseUrl}/u/${encodeURIComponent("@bob:b.test")}`);
    await carol.page.getByRole("heading", { name: "Bob" }).waitFor();
    const avatar = carol.page.getByRole("img", { name: "Bob" });
    await avatar.waitFor();
    await carol.page.waitForFunction(() => {
      const img = document.querySelector("img.avatar") as HTMLImageElement | null;
      return !!img && img.complete && img.naturalWidth > 0;
    });
    t.ok(await avatar.isVisible(), "bob's avatar is shown");
    t.equal(c.logs.filter((l) => l.msg === "file fetched from its server" && l.mediaId === mediaId && l.peer === "b.test").length, 1, "c fetched it once from b");
    await axe(t, carol.page, "a remote user's profile");
    await carol.context.close();
  });
}
