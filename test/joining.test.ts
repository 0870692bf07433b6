/**
 * Joining over the real protocol: from the community's list of groups, by request where approval
 * is on, by invite link (with its QR code and landing page), and by direct invitation.
 *
 *   alice  the head teacher (owner of the school)    carol  a teacher and admin
 *   bob, dan, grace  parents                          eve    a troublemaker
 *   hank, ivy, jay, kim, lee  newcomers from outside the school
 *
 * Happy paths are checked against each op's result schema; refusals by their exact error code.
 */
import t from "tap";
import sharp from "sharp";
import type { ParleyClient } from "../clients/sdk/index.ts";
import { caller, eventFor, refusalOf, schemaErrors, startServer, unthrottled, type TestServer } from "./helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const roomIdsOf = async (client: ParleyClient) => (await client.request("room.list", {})).rooms.map((r) => r.roomId).sort();
const sorted = (xs: string[]) => [...xs].sort();

/** The school, with carol as admin and bob and dan as members; eve is registered but outside. */
async function openSchool(t: Test, server: TestServer, extra: string[] = []) {
  const call = caller(t);
  const names = ["alice", "carol", "bob", "dan", "eve", ...extra];
  const clients = await Promise.all(names.map((n) => server.user(n)));
  const [alice, carol, bob, dan, eve] = clients;
  const school = await call(alice, "community.create", { name: "Hillside School", description: "Parents and staff", rules: "Be kind." });
  const link = await call(alice, "link.create", { roomId: school.roomId });
  for (const parent of [carol, bob, dan]) await parent.request("link.join", { token: link.token });
  await call(alice, "member.role", { roomId: school.roomId, userId: carol.userId, role: "admin" });
  const others = Object.fromEntries(extra.map((n, i) => [n, clients[5 + i]]));
  return { call, alice, carol, bob, dan, eve, school, link, others };
}

t.test("joining a group from the school's list: directly, or by a request the admins approve or reject", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const { call, alice, carol, bob, dan, eve, school, others } = await openSchool(t, server, ["grace"]);
  const { grace } = others;
  await grace.request("link.join", { token: (await alice.request("link.create", { roomId: school.roomId })).token });

  const maths = await call(carol, "group.create", { name: "Maths", communityId: school.roomId });
  const trips = await call(carol, "group.create", { name: "Trips", communityId: school.roomId, settings: { joinApproval: true } });

  const joined = await call(bob, "group.join", { roomId: maths.roomId });
  t.same([joined.status, joined.room.myRole, joined.room.memberCount], ["joined", "member", 2], "no approval: bob is in #maths at once");
  t.equal(await refusalOf(bob, "group.join", { roomId: maths.roomId }), "room.already_member");
  t.equal(await refusalOf(eve, "group.join", { roomId: maths.roomId }), "room.not_found", "only community members join from the list");
  const standalone = await call(alice, "group.create", { name: "Staff room" });
  t.equal(await refusalOf(bob, "group.join", { roomId: standalone.roomId }), "room.not_found", "a standalone group is not in any list");

  // #trips needs approval.
  const asked = await call(bob, "group.join", { roomId: trips.roomId });
  t.same([asked.status, asked.room.myRole], ["requested", null], "with approval on, joining becomes a request");
  t.equal(await refusalOf(bob, "group.join", { roomId: trips.roomId }), "room.request_pending", "one request at a time");
  await call(dan, "group.join", { roomId: trips.roomId });
  await call(grace, "group.join", { roomId: trips.roomId });
  const list = await call(bob, "community.groups", { roomId: school.roomId });
  t.same(list.groups.find((g) => g.roomId === trips.roomId), { roomId: trips.roomId, name: "Trips", description: "", picture: null, memberCount: 1, joined: false, joinApproval: true, requested: true }, "the list shows bob's request");
  t.equal((await call(carol, "room.get", { roomId: trips.roomId })).pendingRequests, 3);

  const requests = await call(carol, "join.requests", { roomId: trips.roomId });
  t.same(requests.requests.map((r) => r.userId), [bob.userId, dan.userId, grace.userId], "the admin sees the requests, oldest first");
  t.equal(await refusalOf(bob, "join.requests", { roomId: maths.roomId }), "room.forbidden", "a member of #maths may not see its requests");
  t.equal(await refusalOf(bob, "join.requests", { roomId: trips.roomId }), "room.not_found", "nor may a requester");
  t.equal(await refusalOf(eve, "join.requests", { roomId: trips.roomId }), "room.not_found");

  // Approve bob: he is told by a member.join event.
  const bobIn = eventFor(bob, trips.roomId, "member.join", bob.userId);
  t.same(await call(carol, "join.approve", { roomId: trips.roomId, userId: bob.userId }), { roomId: trips.roomId, userId: bob.userId });
  t.equal((await bobIn).sender, carol.userId, "bob gets the member.join, sent by carol");
  t.equal((await call(bob, "room.get", { roomId: trips.roomId })).myRole, "member");
  t.equal(await refusalOf(carol, "join.approve", { roomId: trips.roomId, userId: bob.userId }), "room.already_member", "approving twice finds bob already in");
  t.equal(await refusalOf(carol, "join.approve", { roomId: trips.roomId, userId: eve.userId }), "room.no_request", "eve never asked");
  t.equal(await refusalOf(bob, "join.approve", { roomId: trips.roomId, userId: grace.userId }), "room.forbidden", "a member cannot approve");
  t.equal(await refusalOf(eve, "join.approve", { roomId: trips.roomId, userId: grace.userId }), "room.not_found");

  // Reject dan: he is told by a join.reject event, though he is not in the room.
  const danOut = eventFor(dan, trips.roomId, "join.reject", dan.userId);
  t.same(await call(carol, "join.reject", { roomId: trips.roomId, userId: dan.userId }), { roomId: trips.roomId, userId: dan.userId });
  t.equal((await danOut).sender, carol.userId, "dan is told his request was rejected");
  t.equal(await refusalOf(carol, "join.reject", { roomId: trips.roomId, userId: dan.userId }), "room.no_request", "there is nothing left to reject");
  t.equal(await refusalOf(bob, "join.reject", { roomId: trips.roomId, userId: grace.userId }), "room.forbidden");
  t.equal(await refusalOf(eve, "join.reject", { roomId: trips.roomId, userId: grace.userId }), "room.not_found");
  t.equal((await call(dan, "group.join", { roomId: trips.roomId })).status, "requested", "dan may ask again");

  // Grace changes her mind.
  t.same(await call(grace, "join.cancel", { roomId: trips.roomId }), { roomId: trips.roomId });
  t.equal(await refusalOf(grace, "join.cancel", { roomId: trips.roomId }), "room.no_request", "there is nothing left to withdraw");
  t.equal(await refusalOf(bob, "join.cancel", { roomId: trips.roomId }), "room.no_request", "bob, now a member, has no request");
  t.same((await call(carol, "join.requests", { roomId: trips.roomId })).requests.map((r) => r.userId), [dan.userId]);
});

t.test("invite links: create with expiry and uses, list, preview, revoke, reset, used up", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const { call, alice, bob, eve, school, link: openLink, others } = await openSchool(t, server, ["hank", "ivy", "jay"]);
  const { hank, ivy, jay } = others;

  const limited = await call(alice, "link.create", { roomId: school.roomId, expiresInSeconds: 3600, maxUses: 2 });
  t.equal(limited.expiresAt, limited.createdAt + 3_600_000, "expiresAt is createdAt plus the lifetime");
  t.same([limited.maxUses, limited.uses, limited.revoked, limited.createdBy, limited.roomId], [2, 0, false, alice.userId, school.roomId]);
  t.equal(limited.url, `${server.config.server.public_url}/join/${limited.token}`, "the url opens the landing page");
  t.same([openLink.expiresAt, openLink.maxUses], [null, null], "without options a link neither expires nor runs out");
  t.equal(await refusalOf(bob, "link.create", { roomId: school.roomId }), "room.forbidden", "members do not make links");
  t.equal(await refusalOf(eve, "link.create", { roomId: school.roomId }), "room.not_found");

  const listed = await call(alice, "link.list", { roomId: school.roomId });
  t.same(sorted(listed.links.map((l) => l.linkId)), sorted([openLink.linkId, limited.linkId]));
  t.equal(await refusalOf(bob, "link.list", { roomId: school.roomId }), "room.forbidden");
  t.equal(await refusalOf(eve, "link.list", { roomId: school.roomId }), "room.not_found");

  const preview = await call(eve, "link.preview", { token: limited.token });
  t.same(preview, { roomId: school.roomId, kind: "community", name: "Hillside School", description: "Parents and staff", picture: null, memberCount: 4, joinApproval: false, url: limited.url }, "anyone holding the token sees what it leads to, never the member list");
  t.equal(await refusalOf(eve, "link.preview", { token: "AAAAAAAAAAAAAAAAAAAAAA" }), "invite.invalid");

  const first = await call(hank, "link.join", { token: limited.token });
  t.same([first.status, first.roomId, first.room.myRole], ["joined", school.roomId, "member"]);
  t.equal((await call(hank, "link.join", { token: limited.token })).status, "joined", "joining again is harmless");
  t.equal((await call(alice, "link.list", { roomId: school.roomId })).links.find((l) => l.linkId === limited.linkId)!.uses, 1, "and is not counted twice");
  await call(ivy, "link.join", { token: limited.token });
  t.equal(await refusalOf(jay, "link.join", { token: limited.token }), "invite.invalid", "two uses, used up");
  t.equal(await refusalOf(jay, "link.preview", { token: limited.token }), "invite.invalid");
  t.equal(await refusalOf(jay, "link.join", { token: "AAAAAAAAAAAAAAAAAAAAAA" }), "invite.invalid", "an unknown token");

  // Revoke.
  const doomed = await call(alice, "link.create", { roomId: school.roomId });
  t.same(await call(alice, "link.revoke", { roomId: school.roomId, linkId: doomed.linkId }), { linkId: doomed.linkId });
  t.equal(await refusalOf(jay, "link.join", { token: doomed.token }), "invite.invalid", "a revoked link is refused");
  t.notOk((await call(alice, "link.list", { roomId: school.roomId })).links.some((l) => l.linkId === doomed.linkId), "and no longer listed");
  t.equal(await refusalOf(alice, "link.revoke", { roomId: school.roomId, linkId: doomed.linkId }), "invite.invalid", "a link is revoked once");
  t.equal(await refusalOf(alice, "link.revoke", { roomId: school.roomId, linkId: "ln_nosuchlink" }), "invite.invalid");
  t.equal(await refusalOf(bob, "link.revoke", { roomId: school.roomId, linkId: openLink.linkId }), "room.forbidden");
  t.equal(await refusalOf(jay, "link.revoke", { roomId: school.roomId, linkId: openLink.linkId }), "room.not_found");

  // Reset: a leaked link is replaced by a new token with the same limits.
  const leaked = await call(alice, "link.create", { roomId: school.roomId, expiresInSeconds: 600, maxUses: 5 });
  const fresh = await call(alice, "link.reset", { roomId: school.roomId, linkId: leaked.linkId });
  t.not(fresh.token, leaked.token, "a new token");
  t.not(fresh.linkId, leaked.linkId);
  t.same([fresh.maxUses, fresh.uses, fresh.expiresAt! - fresh.createdAt], [5, 0, 600_000], "the same limits, the lifetime counted afresh");
  t.equal(await refusalOf(jay, "link.join", { token: leaked.token }), "invite.invalid", "the old token is refused");
  t.equal(await refusalOf(alice, "link.reset", { roomId: school.roomId, linkId: leaked.linkId }), "invite.invalid", "the old link cannot be reset again");
  t.equal(await refusalOf(bob, "link.reset", { roomId: school.roomId, linkId: fresh.linkId }), "room.forbidden");
  t.equal(await refusalOf(jay, "link.reset", { roomId: school.roomId, linkId: fresh.linkId }), "room.not_found");
  t.equal((await call(jay, "link.join", { token: fresh.token })).status, "joined", "the new one works");
  t.equal(await refusalOf(jay, "link.join", { token: "short" }), "invalid_params", "a token has at least 8 characters");
});

t.test("an invite link expires by the server's clock", async (t) => {
  let clock = Date.now();
  const server = await startServer(unthrottled, { now: () => clock });
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const hank = await server.user("hank");
  const school = await alice.request("community.create", { name: "Hillside School" });
  const link = await alice.request("link.create", { roomId: school.roomId, expiresInSeconds: 60 });
  t.equal(link.expiresAt, clock + 60_000);
  t.equal(await refusalOf(alice, "link.create", { roomId: school.roomId, expiresInSeconds: 59 }), "invalid_params", "the shortest lifetime is a minute");

  clock += 59_000;
  t.equal((await hank.request("link.preview", { token: link.token })).name, "Hillside School", "a second before expiry the link still works");
  t.equal((await fetch(`${server.baseUrl}/api/v1/invites/${link.token}`)).status, 200);
  clock += 1_000;
  t.equal(await refusalOf(hank, "link.join", { token: link.token }), "invite.invalid", "at its expiry it is refused");
  t.equal(await refusalOf(hank, "link.preview", { token: link.token }), "invite.invalid");
  const page = await fetch(`${server.baseUrl}/join/${link.token}`);
  t.equal(page.status, 404, "regression: the landing page followed the wall clock and still showed an expired link");
  t.same((await roomIdsOf(hank)), [], "hank never got in");
});

t.test("links into a group of the school, and links with approval on", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const { call, alice, carol, bob, school, others } = await openSchool(t, server, ["hank", "ivy", "jay"]);
  const { hank, ivy, jay } = others;
  const maths = await call(carol, "group.create", { name: "Maths", communityId: school.roomId });
  const trips = await call(carol, "group.create", { name: "Trips", communityId: school.roomId, settings: { joinApproval: true } });

  // A link to #maths brings hank into the school too; the admins are told, the members are not.
  const mathsLink = await call(carol, "link.create", { roomId: maths.roomId });
  const carolSees = eventFor(carol, school.roomId, "member.join", hank.userId);
  const inMaths = await call(hank, "link.join", { token: mathsLink.token });
  t.same([inMaths.status, inMaths.roomId, inMaths.room.communityId], ["joined", maths.roomId, school.roomId]);
  t.same(await roomIdsOf(hank), sorted([school.roomId, maths.roomId]), "joining a group of the school joins the school");
  t.same(((await carolSees).content as { via?: string; groupId?: string }), { userId: hank.userId, via: "group", groupId: maths.roomId }, "carol is told hank came in through #maths");
  t.equal((await call(bob, "room.members", { roomId: school.roomId })).count, 5);

  // A link to #trips, which needs approval: a request, and the school waits for the approval too.
  const tripsLink = await call(carol, "link.create", { roomId: trips.roomId, maxUses: 10 });
  const asked = await call(ivy, "link.join", { token: tripsLink.token });
  t.same([asked.status, asked.roomId, asked.room.myRole], ["requested", trips.roomId, null], "with approval on, the link makes a request");
  t.equal((await call(ivy, "link.join", { token: tripsLink.token })).status, "requested", "asking again by the link changes nothing");
  t.same(await roomIdsOf(ivy), [], "ivy is in nothing yet");
  t.equal(await refusalOf(ivy, "room.get", { roomId: trips.roomId }), "room.not_found", "a requester does not see inside");
  t.equal((await call(carol, "link.list", { roomId: trips.roomId })).links[0].uses, 1, "the request used the link once");
  const ivyIn = eventFor(ivy, trips.roomId, "member.join", ivy.userId);
  await call(carol, "join.approve", { roomId: trips.roomId, userId: ivy.userId });
  await ivyIn;
  t.same(await roomIdsOf(ivy), sorted([school.roomId, trips.roomId]), "approved into #trips, ivy is in the school too");

  // The school itself with approval on.
  await call(alice, "room.settings.update", { roomId: school.roomId, joinApproval: true });
  const schoolLink = await call(alice, "link.create", { roomId: school.roomId });
  t.equal((await call(alice, "link.preview", { token: schoolLink.token })).joinApproval, true, "the preview says approval is needed");
  t.equal((await call(jay, "link.join", { token: schoolLink.token })).status, "requested");
  t.same((await call(carol, "join.requests", { roomId: school.roomId })).requests.map((r) => r.userId), [jay.userId]);
  t.equal((await call(alice, "room.get", { roomId: school.roomId })).pendingRequests, 1);
  await call(carol, "join.approve", { roomId: school.roomId, userId: jay.userId });
  t.same(await roomIdsOf(jay), [school.roomId]);
  t.equal(await refusalOf(jay, "join.requests", { roomId: school.roomId }), "room.forbidden", "now a member, jay still may not see requests");
});

t.test("invite links over HTTP: the room's picture, for whoever holds the link", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const bob = await server.user("bob");
  const image = await sharp({ create: { width: 600, height: 400, channels: 3, background: "#336699" } }).png().toBuffer();
  const uploaded = await fetch(`${server.baseUrl}/api/v1/media?name=school.png`, { method: "POST", headers: { authorization: `Bearer ${alice.session.accessToken}` }, body: image });
  const { mediaId } = await uploaded.json();
  const school = await alice.request("community.create", { name: "Hillside School", picture: mediaId });
  const link = await alice.request("link.create", { roomId: school.roomId });

  const picture = await fetch(`${server.baseUrl}/api/v1/invites/${link.token}/picture`);
  t.equal(picture.status, 200, "no login needed: the token is the permission");
  t.equal(picture.headers.get("content-type"), "image/jpeg", "the preview, not the original");
  t.equal(picture.headers.get("cache-control"), "no-store");
  t.equal(picture.headers.get("x-content-type-options"), "nosniff");
  const meta = await sharp(Buffer.from(await picture.arrayBuffer())).metadata();
  t.equal(meta.format, "jpeg");
  t.ok(meta.width! <= server.config.media.preview_pixels, "at most the preview size");
  const page = await (await fetch(`${server.baseUrl}/join/${link.token}`)).text();
  t.match(page, `src="/api/v1/invites/${link.token}/picture"`, "the landing page shows it");

  const direct = await fetch(`${server.baseUrl}/api/v1/media/${mediaId}/preview`, { headers: { authorization: `Bearer ${bob.session.accessToken}` } });
  t.equal(direct.status, 404, "the file itself stays for members: bob, not one yet, cannot fetch it by id");

  const plain = await alice.request("community.create", { name: "No Picture Club" });
  const plainLink = await alice.request("link.create", { roomId: plain.roomId });
  const none = await fetch(`${server.baseUrl}/api/v1/invites/${plainLink.token}/picture`);
  t.equal(none.status, 404);
  t.equal((await none.json()).error.code, "media.not_found", "a room without a picture");
  t.notMatch(await (await fetch(`${server.baseUrl}/join/${plainLink.token}`)).text(), "/picture", "and its landing page has no image");

  await alice.request("link.revoke", { roomId: school.roomId, linkId: link.linkId });
  const revoked = await fetch(`${server.baseUrl}/api/v1/invites/${link.token}/picture`);
  t.equal(revoked.status, 404);
  t.equal((await revoked.json()).error.code, "invite.invalid", "a revoked link shows nothing any more");
  const malformed = await fetch(`${server.baseUrl}/api/v1/invites/bad!token/picture`);
  t.equal(malformed.status, 400);
});

t.test("invite links over HTTP: QR codes, the landing page (escaped), the JSON preview", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const evil = await alice.request("community.create", { name: "<script>alert(1)</script>", description: `"quotes" & <b>tags</b>` });
  const link = await alice.request("link.create", { roomId: evil.roomId });

  const svg = await fetch(`${server.baseUrl}/api/v1/invites/${link.token}/qr.svg`);
  t.equal(svg.status, 200);
  t.match(svg.headers.get("content-type"), /^image\/svg\+xml/);
  const svgText = (await svg.text()).trimStart();
  t.ok(svgText.startsWith("<svg") || svgText.startsWith("<?xml"), "an SVG document");

  const png = await fetch(`${server.baseUrl}/api/v1/invites/${link.token}/qr.png`);
  t.equal(png.status, 200);
  t.equal(png.headers.get("content-type"), "image/png");
  t.same([...new Uint8Array(await png.arrayBuffer()).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "PNG magic bytes");

  const page = await fetch(`${server.baseUrl}/join/${link.token}`);
  t.equal(page.status, 200);
  t.match(page.headers.get("content-type"), /^text\/html/);
  t.match(page.headers.get("content-security-policy"), /default-src 'none'/, "the page runs no script even if one slipped through");
  const html = await page.text();
  t.notMatch(html, "<script>", "the name is not injected as markup");
  t.notMatch(html, "<b>tags</b>");
  t.match(html, "&#60;script&#62;alert(1)&#60;/script&#62;", "it is shown escaped");
  t.match(html, "&#34;quotes&#34; &#38; &#60;b&#62;tags&#60;/b&#62;");
  t.match(html, `/api/v1/invites/${link.token}/qr.svg`, "the page shows the QR code");
  t.match(html, "1 member", "and the member count");

  const preview = await fetch(`${server.baseUrl}/api/v1/invites/${link.token}`);
  t.equal(preview.status, 200);
  const body = await preview.json();
  t.same(schemaErrors("http/invite.preview#/$defs/response", body), [], "the JSON preview matches its schema");
  t.equal(body.name, "<script>alert(1)</script>", "JSON carries the name as it is");

  for (const path of [`/api/v1/invites/AAAAAAAAAAAAAAAA`, `/api/v1/invites/AAAAAAAAAAAAAAAA/picture`, `/api/v1/invites/AAAAAAAAAAAAAAAA/qr.svg`, `/api/v1/invites/AAAAAAAAAAAAAAAA/qr.png`, `/join/AAAAAAAAAAAAAAAA`]) {
    const res = await fetch(`${server.baseUrl}${path}`);
    t.equal(res.status, 404, `${path}: an unknown token is 404`);
    t.equal((await res.json()).error.code, "invite.invalid");
  }
  await alice.request("link.revoke", { roomId: evil.roomId, linkId: link.linkId });
  t.equal((await fetch(`${server.baseUrl}/api/v1/invites/${link.token}/qr.png`)).status, 404, "a revoked link has no QR code");
  const malformed = await fetch(`${server.baseUrl}/join/bad!token`);
  t.equal(malformed.status, 400);
  t.equal((await malformed.json()).error.code, "bad_request");
});

t.test("direct invitations: invite, accept into a group and its community, decline", async (t) => {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const { call, alice, carol, bob, eve, school, others } = await openSchool(t, server, ["hank", "ivy", "jay", "kim", "lee"]);
  const { hank, ivy, jay, kim, lee } = others;
  const maths = await call(carol, "group.create", { name: "Maths", communityId: school.roomId });
  await bob.request("group.join", { roomId: maths.roomId });

  const told = eventFor(hank, maths.roomId, "member.invite", hank.userId);
  t.same(await call(carol, "member.invite", { roomId: maths.roomId, userId: hank.userId }), { roomId: maths.roomId, userId: hank.userId });
  t.equal((await told).sender, carol.userId, "hank is told he is invited");
  const peek = await call(hank, "room.get", { roomId: maths.roomId });
  t.same([peek.invited, peek.myRole, peek.name], [true, null, "Maths"], "an invitee may look at the room before accepting");

  t.equal(await refusalOf(carol, "member.invite", { roomId: maths.roomId, userId: hank.userId }), "room.already_invited");
  t.equal(await refusalOf(carol, "member.invite", { roomId: maths.roomId, userId: bob.userId }), "room.already_member");
  t.equal(await refusalOf(carol, "member.invite", { roomId: maths.roomId, userId: "@nobody:school.test" }), "user.not_found", "there is no such user");
  t.equal(await refusalOf(bob, "member.invite", { roomId: maths.roomId, userId: ivy.userId }), "room.forbidden", "addMembersPolicy admins: members may not invite");
  t.equal(await refusalOf(eve, "member.invite", { roomId: maths.roomId, userId: ivy.userId }), "room.not_found");
  await call(carol, "member.ban", { roomId: maths.roomId, userId: jay.userId });
  t.equal(await refusalOf(carol, "member.invite", { roomId: maths.roomId, userId: jay.userId }), "room.banned", "a banned user cannot be invited");

  await call(carol, "room.settings.update", { roomId: maths.roomId, addMembersPolicy: "all" });
  t.same(await call(bob, "member.invite", { roomId: maths.roomId, userId: ivy.userId }), { roomId: maths.roomId, userId: ivy.userId }, "addMembersPolicy all: bob invites ivy");

  const accepted = await call(hank, "invite.accept", { roomId: maths.roomId });
  t.same([accepted.roomId, accepted.myRole, accepted.communityId], [maths.roomId, "member", school.roomId]);
  t.same(await roomIdsOf(hank), sorted([school.roomId, maths.roomId]), "accepting a group's invitation joins its community too");
  t.equal(await refusalOf(hank, "invite.accept", { roomId: maths.roomId }), "room.not_invited", "an invitation is accepted once");

  t.same(await call(ivy, "invite.decline", { roomId: maths.roomId }), { roomId: maths.roomId });
  t.equal(await refusalOf(ivy, "invite.decline", { roomId: maths.roomId }), "room.not_invited", "and declined once");
  t.equal(await refusalOf(ivy, "invite.accept", { roomId: maths.roomId }), "room.not_invited", "a declined invitation cannot be accepted");
  t.same(await roomIdsOf(ivy), []);
  t.equal(await refusalOf(ivy, "room.get", { roomId: maths.roomId }), "room.not_found", "nor looked at any more");

  // Invited to #maths, then banned from the school: the invitation cannot carry kim in.
  await call(carol, "member.invite", { roomId: maths.roomId, userId: kim.userId });
  await call(alice, "member.ban", { roomId: school.roomId, userId: kim.userId });
  t.equal(await refusalOf(kim, "invite.accept", { roomId: maths.roomId }), "room.banned");
  t.same(await roomIdsOf(kim), []);

  // An invitation to the school itself.
  await call(alice, "member.invite", { roomId: school.roomId, userId: lee.userId });
  t.equal((await call(lee, "room.get", { roomId: school.roomId })).invited, true);
  t.equal((await call(lee, "invite.accept", { roomId: school.roomId })).myRole, "member");
  t.same(await roomIdsOf(lee), [school.roomId]);
});

t.test("the member caps: joining a full community or group is refused by every road in", async (t) => {
  const server = await startServer({ ...unthrottled, rooms: { members_per_community: 4, members_per_group: 2 } });
  t.teardown(() => server.stop(true));
  const call = caller(t);
  const [alice, bob, carol, dan, eve] = await Promise.all(["alice", "bob", "carol", "dan", "eve"].map((n) => server.user(n)));
  const school = await call(alice, "community.create", { name: "Hillside School" });
  const link = await call(alice, "link.create", { roomId: school.roomId });
  for (const c of [bob, carol, dan]) await c.request("link.join", { token: link.token });
  t.equal(await refusalOf(eve, "link.join", { token: link.token }), "room.full", "four members: the school is full");
  t.equal((await call(alice, "link.list", { roomId: school.roomId })).links[0].uses, 3, "a refused join does not use the link");

  const maths = await call(alice, "group.create", { name: "Maths", communityId: school.roomId });
  await call(bob, "group.join", { roomId: maths.roomId });
  t.equal(await refusalOf(carol, "group.join", { roomId: maths.roomId }), "room.full", "two members: #maths is full");
  const mathsLink = await call(alice, "link.create", { roomId: maths.roomId });
  t.equal(await refusalOf(dan, "link.join", { token: mathsLink.token }), "room.full", "by link too");

  const trips = await call(alice, "group.create", { name: "Trips", communityId: school.roomId, settings: { joinApproval: true } });
  await call(bob, "group.join", { roomId: trips.roomId });
  await call(carol, "group.join", { roomId: trips.roomId });
  await call(alice, "join.approve", { roomId: trips.roomId, userId: bob.userId });
  t.equal(await refusalOf(alice, "join.approve", { roomId: trips.roomId, userId: carol.userId }), "room.full", "an approval cannot overfill #trips");

  const art = await call(alice, "group.create", { name: "Art", communityId: school.roomId });
  await call(alice, "member.invite", { roomId: art.roomId, userId: dan.userId });
  await call(bob, "group.join", { roomId: art.roomId });
  t.equal(await refusalOf(dan, "invite.accept", { roomId: art.roomId }), "room.full", "nor can an invitation");
});
