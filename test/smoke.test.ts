import t from "tap";
import { startServer } from "./helpers.ts";

t.test("alice registers, connects and sees her session and profile", async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const info = await alice.request("session.info", {});
  t.equal(info.userId, "@alice:school.test");
  t.equal(info.deviceId, alice.deviceId);
  const profile = await alice.request("profile.update", { about: "Maths teacher" });
  t.same(profile, { userId: "@alice:school.test", displayName: "Alice", about: "Maths teacher", avatar: null });
});
