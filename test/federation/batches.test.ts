/**
 * Proposals in batches (federation/proposer.ts, the `propose-batch` endpoint): many sends of
 * users of b to a group of a go in batches, one request in flight to a, arrive in order, and each
 * caller gets its own answer (a refused one among accepted ones); a malformed or oversized batch
 * changes nothing; a hostile peer cannot speak for another server's users inside a batch; a home
 * that does not know `propose-batch` is sent single proposals.
 *
 *   alice  on a.test (or school.test), owner of the group Maths
 *   bob, dave  on b.test, members      carol  on b.test, not a member
 *   mallory  on evil.test (a fake peer)
 */
import t from "tap";
import { startClusterFor } from "./cluster.ts";
import { startServer, unthrottled, type TestServer } from "../helpers.ts";
import { startFakePeer, type FakePeer } from "./peer.ts";
import { createProposer, JsonText, proposalsPerBatch } from "../../federation/proposer.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

function messagesOf(server: TestServer, roomId: string) {
  return (server.app.parley.storage.sqlite.prepare("SELECT sender, content FROM room_events WHERE room_id = ? AND type = 'message' ORDER BY seq").all(roomId) as { sender: string; content: string }[]).map((r) => ({
    sender: r.sender,
    body: JSON.parse(r.content).body as string,
  }));
}

async function twoServers(t: Test) {
  const servers = await startClusterFor(t, ["a.test", "b.test"], () => unthrottled);
  const { "a.test": a, "b.test": b } = servers;
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  const dave = await b.user("dave");
  const carol = await b.user("carol");
  const { roomId } = await alice.request("group.create", { name: "Maths" });
  const { token } = await alice.request("link.create", { roomId });
  await bob.request("link.join", { token, server: "a.test" });
  await dave.request("link.join", { token, server: "a.test" });
  return { a, b, alice, bob, dave, carol, roomId };
}

t.test("many concurrent sends of bob and dave on b reach a's group in order, each with its own answer, a refused one among them", async (t) => {
  const { a, bob, dave, carol, roomId } = await twoServers(t);
  const n = 40;
  const sends: Promise<{ who: string; i: number; answer: any; error?: string }>[] = [];
  for (let i = 0; i < n; i++) {
    for (const [who, client] of [["bob", bob], ["dave", dave]] as const) {
      sends.push(client.request("message.send", { roomId, txnId: `${who}-${i}`, body: `${who} ${i}` }).then((answer) => ({ who, i, answer })));
    }
    // carol is not a member: her send is refused at home, in the middle of the others.
    if (i === n / 2) sends.push(carol.request("message.send", { roomId, txnId: "carol-1", body: "carol 1" }).then((answer) => ({ who: "carol", i, answer }), (err) => ({ who: "carol", i, answer: null, error: (err as { code?: string }).code })));
  }
  const results = await Promise.all(sends);
  const carolResult = results.find((r) => r.who === "carol")!;
  t.equal(carolResult.error, "room.not_found", "carol's send is refused with the op's own code");
  const accepted = results.filter((r) => r.who !== "carol");
  t.ok(accepted.every((r) => r.answer?.event?.content?.body === `${r.who} ${r.i}`), "each caller gets the event of its own message");
  t.equal(new Set(accepted.map((r) => r.answer.event.seq)).size, accepted.length, "each with its own seq");
  const log = messagesOf(a, roomId);
  for (const who of ["bob", "dave"]) {
    const mine = log.filter((m) => m.sender === `@${who}:b.test`).map((m) => m.body);
    t.same(mine, Array.from({ length: n }, (_, i) => `${who} ${i}`), `${who}'s messages are in the order he sent them, once each`);
  }
  t.notOk(log.some((m) => m.sender === "@carol:b.test"), "carol's send left no trace");
});

t.test("proposals of one turn leave together at its end; those made while a request is in flight go together in the next; within the bound, in order", async (t) => {
  const { a, b, roomId } = await twoServers(t);
  const bodies: number[] = [];
  const late: Promise<{ status: number; body: any }>[] = [];
  const propose = (i: number) =>
    proposer.propose("a.test", { sender: i % 2 ? "@bob:b.test" : "@dave:b.test", op: "message.send", params: { roomId, txnId: `p-${i}`, body: `p ${i}` }, proposedAt: Date.now() });
  const count = proposalsPerBatch + 50;
  const proposer = createProposer((home, method, path, body) => {
    bodies.push((JSON.parse((body as JsonText).text) as { proposals: unknown[] }).proposals.length);
    t.equal(path, "/propose-batch");
    // While the first request is out, seven more are made: they wait for it, then go together.
    if (bodies.length === 1) for (let i = count; i < count + 7; i++) late.push(propose(i));
    return b.app.parley.federation.request(home, method, path, body);
  });
  const answers = await Promise.all(Array.from({ length: count }, (_, i) => propose(i)));
  answers.push(...(await Promise.all(late)));
  t.same(bodies, [proposalsPerBatch, 57], "the turn's proposals in batches of at most the bound, one request in flight; the seven made meanwhile join the 50 waiting");
  t.ok(answers.every((x, i) => x.status === 200 && x.body.result.event.content.body === `p ${i}`), "each caller gets its own answer");
  t.same(messagesOf(a, roomId).map((m) => m.body), Array.from({ length: count + 7 }, (_, i) => `p ${i}`), "the home ran them in the order they were proposed");
});

t.test("when the home cannot be reached, the proposals queued behind the batch fail with it, without a request of their own", async (t) => {
  const { a, b, roomId } = await twoServers(t);
  await a.stop(true);
  let requests = 0;
  const proposer = createProposer((home, method, path, body) => {
    requests++;
    return b.app.parley.federation.request(home, method, path, body);
  });
  const outcomes = await Promise.all(
    Array.from({ length: 5 }, (_, i) =>
      proposer.propose("a.test", { sender: "@bob:b.test", op: "message.send", params: { roomId, txnId: `down-${i}`, body: `down ${i}` } }).then(
        () => "(accepted)",
        (err) => (err as { code?: string }).code,
      ),
    ),
  );
  t.same(outcomes, Array(5).fill("federation.unreachable"), "each caller is told the home is unreachable");
  t.equal(requests, 1, "one request, the first; the others were not sent after it");
});

async function withPeer(t: Test) {
  const evil: FakePeer = await startFakePeer("evil.test");
  t.teardown(() => evil.close());
  const server = await startServer({ server: { name: "school.test" }, federation: { allow_plain_http: true, peers: { "evil.test": evil.baseUrl } }, limits: { message_chars: 100 } });
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const { roomId } = await alice.request("group.create", { name: "Maths" });
  const { token } = await alice.request("link.create", { roomId });
  const target = { baseUrl: server.baseUrl, name: "school.test" };
  const seq = () => server.app.parley.rooms.state(roomId)!.seq;
  const send = (sender: string, txnId: string) => ({ sender, op: "message.send", params: { roomId, txnId, body: txnId } });
  return { evil, server, alice, roomId, token, target, seq, send };
}

t.test("mallory cannot speak for alice inside a batch: that proposal alone is refused", async (t) => {
  const { evil, server, roomId, token, target, send } = await withPeer(t);
  const res = await evil.call(target, "/propose-batch", {
    proposals: [{ sender: "@mallory:evil.test", op: "link.join", params: { token } }, send("@alice:school.test", "forged"), send("@mallory:evil.test", "hello"), { sender: "@mallory:evil.test", op: "message.send", params: { roomId, txnId: "x" } }],
  });
  t.equal(res.status, 200);
  const [joined, forged, hello, invalid] = res.body.answers;
  t.equal(joined.status, 200, "mallory joins");
  t.same([forged.status, forged.error?.code], [401, "federation.sender_not_of_origin"], "alice's name is refused");
  t.equal(hello.status, 200, "mallory's own message after it is accepted");
  t.equal(hello.result.event.content.body, "hello");
  t.equal(invalid.error?.code, "invalid_params", "a proposal whose params do not fit the op gets invalid_params, alone");
  t.same(messagesOf(server, roomId), [{ sender: "@mallory:evil.test", body: "hello" }], "no message in alice's name");
});

t.test("a send refused by the rules inside a batch's shared commit leaves no trace, and its neighbours commit", async (t) => {
  const { evil, server, roomId, token, target, send, seq } = await withPeer(t);
  t.equal((await evil.call(target, "/propose", { sender: "@mallory:evil.test", op: "link.join", params: { token } })).status, 200, "mallory is a member");
  const before = seq();
  const long = { sender: "@mallory:evil.test", op: "message.send", params: { roomId, txnId: "long", body: "x".repeat(101) } };
  const res = await evil.call(target, "/propose-batch", { proposals: [send("@mallory:evil.test", "one"), long, send("@mallory:evil.test", "two")] });
  t.same(res.body.answers.map((a: { status: number; error?: { code: string } }) => [a.status, a.error?.code ?? null]), [[200, null], [400, "message.too_long"], [200, null]], "one answer each, the long one refused with the op's own code");
  t.same([res.body.answers[0].result.event.seq, res.body.answers[2].result.event.seq], [before + 1, before + 2], "the two others take the next seqs, in order");
  t.same(messagesOf(server, roomId).map((m) => m.body), ["one", "two"]);
});

t.test("a malformed batch and a batch over the bound are refused with coded errors and change nothing", async (t) => {
  const { evil, roomId, token, target, seq, send } = await withPeer(t);
  t.equal((await evil.call(target, "/propose", { sender: "@mallory:evil.test", op: "link.join", params: { token } })).status, 200, "mallory is a member");
  const before = seq();
  const broken = await evil.call(target, "/propose-batch", { proposals: [send("@mallory:evil.test", "a"), { sender: "@mallory:evil.test", op: 5, params: {} }] });
  t.same([broken.status, broken.body.error?.code], [400, "bad_request"], "a proposal that is not one: the whole batch is refused");
  const empty = await evil.call(target, "/propose-batch", { proposals: [] });
  t.equal(empty.body.error?.code, "bad_request", "an empty batch");
  const bare = await evil.call(target, "/propose-batch", send("@mallory:evil.test", "b"));
  t.equal(bare.body.error?.code, "bad_request", "a single proposal where a batch is expected");
  const over = await evil.call(target, "/propose-batch", { proposals: Array.from({ length: proposalsPerBatch + 1 }, (_, i) => send("@mallory:evil.test", `o-${i}`)) });
  t.same([over.status, over.body.error?.code], [413, "federation.batch_too_large"], "one proposal over the bound");
  t.equal(seq(), before, "nothing of any of them was run");
  void roomId;
});

t.test("a home that does not know propose-batch is sent single proposals, and the answer is the same", async (t) => {
  const { evil, server } = await withPeer(t);
  evil.respond = (path) => (path === "/propose" ? { status: 200, body: { result: { roomId: "!old0000000000:evil.test" } } } : { status: 404, body: { error: { code: "not_found", message: "Not found." } } });
  const proposal = { sender: "@alice:school.test", op: "group.join", params: { roomId: "!old0000000000:evil.test" } };
  const first = await server.app.parley.federation.propose("evil.test", proposal);
  t.same(first, { status: 200, body: { result: { roomId: "!old0000000000:evil.test" } } });
  const second = await server.app.parley.federation.propose("evil.test", proposal);
  t.equal(second.status, 200);
  t.same(evil.received.map((r) => r.path), ["/propose-batch", "/propose", "/propose"], "asked once for a batch, then single proposals");
  t.same(evil.received[1].body, proposal, "the single proposal is the proposal itself");
});
