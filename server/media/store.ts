import type { Storage } from "../storage/database.ts";
import { readingStartSql } from "../rooms/reading.ts";

export interface MediaRow {
  id: string;
  size: number;
  mime: string;
  width: number | null;
  height: number | null;
  has_preview: number;
  created_at: number;
}

/** All SQL of the media area. */
export function createMediaStore(storage: Storage) {
  const db = storage.sqlite;
  const s = {
    get: db.prepare("SELECT * FROM media WHERE id = ?"),
    insert: db.prepare("INSERT OR IGNORE INTO media (id, size, mime, width, height, has_preview, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"),
    upload: db.prepare("INSERT INTO uploads (user_id, media_id, name, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (user_id, media_id) DO UPDATE SET name = excluded.name, created_at = excluded.created_at"),
    uploaded: db.prepare("SELECT 1 FROM uploads WHERE user_id = ? AND media_id = ?"),
    usage: db.prepare("SELECT coalesce(sum(m.size), 0) AS bytes FROM uploads u JOIN media m ON m.id = u.media_id WHERE u.user_id = ?"),
    // An avatar; a room's picture, for its members; a file shared in a message, for the members
    // who read that message: their current membership began at or before it (member_spans, as
    // history), so that a member who joined later cannot download what they cannot see.
    readable: db.prepare(`
      SELECT 1 FROM media_refs r WHERE r.media_id = @media AND (
        r.kind = 'avatar'
        OR (r.kind = 'room' AND EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = r.room_id AND m.user_id = @user))
        OR (r.kind = 'message' AND r.seq >= ${readingStartSql("r.room_id", "@user")}))
      LIMIT 1`),
    addRef: db.prepare("INSERT INTO media_refs (media_id, kind, room_id, seq, user_id) VALUES (?, ?, ?, ?, ?)"),
    dropMessageRef: db.prepare("DELETE FROM media_refs WHERE kind = 'message' AND room_id = ? AND seq = ?"),
    dropRoomRef: db.prepare("DELETE FROM media_refs WHERE kind = 'room' AND room_id = ?"),
    dropAvatarRef: db.prepare("DELETE FROM media_refs WHERE kind = 'avatar' AND user_id = ?"),
    garbage: db.prepare(`
      SELECT m.id FROM media m
      WHERE NOT EXISTS (SELECT 1 FROM media_refs r WHERE r.media_id = m.id)
        AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.media_id = m.id AND u.created_at > ?)`),
    deleteMedia: db.prepare("DELETE FROM media WHERE id = ?"),
    deleteUploads: db.prepare("DELETE FROM uploads WHERE media_id = ?"),
  };
  return {
    get: (id: string) => s.get.get(id) as MediaRow | undefined,
    insert(row: MediaRow): void {
      s.insert.run(row.id, row.size, row.mime, row.width, row.height, row.has_preview, row.created_at);
    },
    recordUpload: (userId: string, mediaId: string, name: string, at: number) => void s.upload.run(userId, mediaId, name, at),
    uploadedBy: (userId: string, mediaId: string) => s.uploaded.get(userId, mediaId) !== undefined,
    usage: (userId: string) => (s.usage.get(userId) as { bytes: number }).bytes,
    readableBy: (userId: string, mediaId: string) => s.readable.get({ media: mediaId, user: userId }) !== undefined,
    addMessageRef: (mediaId: string, roomId: string, seq: number) => void s.addRef.run(mediaId, "message", roomId, seq, null),
    dropMessageRef: (roomId: string, seq: number) => void s.dropMessageRef.run(roomId, seq),
    setRoomPicture(roomId: string, mediaId: string | null): void {
      s.dropRoomRef.run(roomId);
      if (mediaId) s.addRef.run(mediaId, "room", roomId, null, null);
    },
    setAvatar(userId: string, mediaId: string | null): void {
      s.dropAvatarRef.run(userId);
      if (mediaId) s.addRef.run(mediaId, "avatar", null, null, userId);
    },
    /** Files no message, picture or avatar uses, and that nobody uploaded within the grace period. */
    garbage: (uploadedBefore: number) => (s.garbage.all(uploadedBefore) as { id: string }[]).map((r) => r.id),
    /**
     * Forgets a file if it is still garbage, checked and deleted in one transaction so that a
     * message or upload that took it up in the meantime keeps it. True when it was forgotten.
     */
    forgetIfGarbage(mediaId: string, uploadedBefore: number): boolean {
      return storage.write(() => {
        const still = (s.garbage.all(uploadedBefore) as { id: string }[]).some((r) => r.id === mediaId);
        if (!still) return false;
        s.deleteUploads.run(mediaId);
        s.deleteMedia.run(mediaId);
        return true;
      });
    },
  };
}

export type MediaStore = ReturnType<typeof createMediaStore>;
