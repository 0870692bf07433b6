/**
 * Files: uploads with their progress, and downloads as object URLs (media needs the session's
 * Authorization header, which img and a elements cannot send).
 */
import { sdk } from "./state.ts";

/** Uploads with XMLHttpRequest for its progress events; resolves with the server's MediaInfo. */
export function upload(file: Blob, name: string, onProgress: (fraction: number) => void): Promise<{ mediaId: string; mime: string; size: number }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1/media?name=${encodeURIComponent(name)}`);
    xhr.setRequestHeader("authorization", `Bearer ${sdk().session.accessToken}`);
    xhr.setRequestHeader("content-type", file.type || "application/octet-stream");
    xhr.upload.onprogress = (ev) => ev.lengthComputable && onProgress(ev.loaded / ev.total);
    xhr.onload = () => {
      let body: any = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(Object.assign(new Error(body?.error?.message ?? `HTTP ${xhr.status}`), { code: body?.error?.code ?? "http_error" }));
    };
    xhr.onerror = () => reject(Object.assign(new Error("network"), { code: "disconnected" }));
    xhr.send(file);
  });
}

/**
 * A file as an object URL: media downloads need the Authorization header, which img and a
 * elements cannot send, so the bytes are fetched once and kept for the session.
 */
const blobUrls = new Map<string, Promise<string>>();
export function mediaUrl(mediaId: string, preview = false): Promise<string> {
  const key = `${mediaId}${preview ? "/preview" : ""}`;
  let p = blobUrls.get(key);
  if (!p) {
    p = fetch(`/api/v1/media/${key}`, { headers: { authorization: `Bearer ${sdk().session.accessToken}` } }).then(async (res) => {
      if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), { code: "media.not_found" });
      return URL.createObjectURL(await res.blob());
    });
    p.catch(() => blobUrls.delete(key));
    blobUrls.set(key, p);
  }
  return p;
}
