/**
 * The benchmarks' warm-up round (bench/lib/warmup.ts) against a real server: every sender sends
 * its messages in the window pattern, every member receives all of them, and the handlers are
 * cleared for the measured round; a refused send ends the round as `send-error`.
 */
import t from "tap";
import { BenchClient } from "../bench/lib/client.ts";
import { warmUp } from "../bench/lib/warmup.ts";
import { startServer, unthrottled } from "./helpers.ts";

t.test("a warm-up round delivers every message to every member, then leaves the clients as it found them", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const url = `${server.baseUrl.replace(/^http/, "ws")}/api/v1/ws`;
  const names = ["alice", "bob", "carol"];
  const conns: BenchClient[] = [];
  for (const name of names) {
    const client = await server.user(name);
    conns.push(await BenchClient.connect(url, client.session.accessToken));
    client.close();
  }
  t.teardown(() => Promise.all(conns.map((c) => c.close())));
  const { roomId } = await conns[0].request("group.create", { name: "Warm-up" });
  const { token } = await conns[0].request("link.create", { roomId });
  for (const c of conns.slice(1)) await c.request("link.join", { token });

  const res = await warmUp(conns, roomId, { senders: 2, msgs: 5, window: 2, timeoutS: 30, tag: "warm" });
  t.equal(res.status, "complete");
  t.equal(res.deliveries, 3 * 2 * 5, "each member got each sender's messages");
  t.ok(res.seconds > 0);
  t.ok(conns.every((c) => c.onGroupMessage === null && c.onSendError === null), "handlers cleared for the measured round");
  const history = await conns[2].request("message.history", { roomId, limit: 50 });
  t.equal(history.messages.filter((m: { body?: string }) => m.body?.startsWith("warm|")).length, 10, "ten messages stored");

  // A sender who is not a member: its first send is refused and the round ends.
  const outsider = await server.user("dave");
  const dave = await BenchClient.connect(url, outsider.session.accessToken);
  outsider.close();
  t.teardown(() => dave.close());
  const refused = await warmUp([dave, ...conns], roomId, { senders: 1, msgs: 3, window: 1, timeoutS: 30, tag: "nope" });
  t.equal(refused.status, "send-error");
  t.equal(refused.deliveries, 0);
});
