/**
 * What I can do about a person from their profile: report them to the admins of a room we share
 * (direct chats and blocking join here once the server has them).
 */
import { useEffect } from "preact/hooks";
import { useSignal } from "@preact/signals";
import { call, me, connection } from "../state.ts";
import { f } from "./strings.ts";
import { dialog } from "./messages.tsx";

export function PersonActions({ userId }: { userId: string }) {
  const shared = useSignal<{ roomId: string; name: string }[]>([]);
  const room = useSignal("");
  useEffect(() => {
    if (connection.value !== "online" || userId === me()) return;
    call("user.common_groups", { userId }).then(
      (r) => {
        shared.value = r.groups.map((g) => ({ roomId: g.roomId, name: g.name }));
        room.value = shared.value[0]?.roomId ?? "";
      },
      () => undefined,
    );
  }, [userId, connection.value === "online"]);
  if (userId === me() || !shared.value.length) return null;
  return (
    <div class="inline x-person-actions">
      {shared.value.length > 1 ? (
        <label>
          {f("inRoomFilter")}
          <select value={room.value} onChange={(e) => (room.value = (e.currentTarget as HTMLSelectElement).value)}>
            {shared.value.map((g) => (
              <option key={g.roomId} value={g.roomId}>{g.name}</option>
            ))}
          </select>
        </label>
      ) : null}
      <button type="button" onClick={() => (dialog.value = { kind: "reportUser", roomId: room.value, userId })}>{f("reportPerson")}</button>
    </div>
  );
}
