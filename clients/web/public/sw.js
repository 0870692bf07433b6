// Parley's service worker: shows the Web Push notifications the server sends while none of this
// person's devices is connected (new messages, calendar reminders; payloads in docs/protocol.md),
// and opens the app at the room when one is clicked. Nothing is cached: the app needs the server.
self.addEventListener("push", (event) => {
  let d = {};
  try {
    d = event.data ? event.data.json() : {};
  } catch {
    d = { body: event.data ? event.data.text() : "" };
  }
  const reminder = d.type === "event.reminder";
  const title = reminder ? d.title : d.senderName ? (d.roomName ? `${d.senderName} · ${d.roomName}` : d.senderName) : "Parley";
  const body = reminder && d.start ? new Date(d.start).toLocaleString() : d.body || "";
  const url = d.roomId ? `/r/${encodeURIComponent(d.roomId)}` : "/";
  const tag = d.roomId ? `${d.roomId}/${d.seq ?? ""}` : undefined;
  event.waitUntil(self.registration.showNotification(title || "Parley", { body, tag, data: { url } }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((tabs) => {
      const tab = tabs.find((c) => "focus" in c);
      if (tab) return tab.navigate(url).then((c) => (c || tab).focus());
      return self.clients.openWindow(url);
    }),
  );
});
