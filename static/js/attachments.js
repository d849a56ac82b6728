// Encrypted attachments (SPEC §5): encrypt and upload a file with its meta; download,
// decrypt and verify one, then save it under its original name.
//
// Nothing unauthenticated is released: a download is decrypted into memory, chunk by
// chunk, while its SHA-256 is computed; only when the last chunk authenticated and the
// hash and size match `meta` does a Blob (and so a file on disk) come into being. A
// truncated or altered file ends in an IntegrityError and no file at all.
import { Decrypter, Encrypter, sha256 } from "../dist/age.js";
import { ApiError, api, apiUrl, csrfToken, fromBase64, parse } from "./api.js";

export class MissingKeyError extends Error {} // no epoch key here yet: wait for a share
export class IntegrityError extends Error {} // the file is not what was uploaded

const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
const MAX_HEADER = 8 * 1024; // SPEC §5: a header is refused past 8 KiB, before parsing

// Where the age header ends (after its "---" MAC line), or -1 if not within `bytes`.
function headerEnd(bytes) {
  for (let i = 0; i + 4 < bytes.length; i++) {
    if (bytes[i] === 0x0a && bytes[i + 1] === 0x2d && bytes[i + 2] === 0x2d && bytes[i + 3] === 0x2d) {
      const end = bytes.indexOf(0x0a, i + 4);
      return end < 0 ? -1 : end + 1;
    }
  }
  return -1;
}

function checkHeader(bytes) {
  const end = headerEnd(bytes.subarray(0, MAX_HEADER));
  if (end < 0) throw new IntegrityError("no age header within 8 KiB");
}

// Passes the age file through once its header is known to end within 8 KiB.
function headerCap() {
  let start = new Uint8Array(0);
  let checked = false;
  return new TransformStream({
    transform(chunk, controller) {
      if (!checked) {
        const joined = new Uint8Array(start.length + Math.min(chunk.length, MAX_HEADER));
        joined.set(start);
        joined.set(chunk.subarray(0, MAX_HEADER), start.length);
        if (headerEnd(joined.subarray(0, MAX_HEADER)) >= 0) checked = true;
        else if (joined.length >= MAX_HEADER) throw new IntegrityError("no age header within 8 KiB");
        else start = joined;
      }
      controller.enqueue(chunk);
    },
    flush() {
      if (!checked) throw new IntegrityError("no age header");
    },
  });
}

// A stream that passes chunks through and reports each one to `seen`.
function tap(seen) {
  return new TransformStream({
    transform(chunk, controller) {
      seen(chunk);
      controller.enqueue(chunk);
    },
  });
}

// Encrypt `file` to the channel's current epoch and upload it; resolves to the server's
// answer ({id, size, sha256, epoch}). onProgress(phase, fraction): "encrypt", "upload".
export async function uploadAttachment({ keys, file, onProgress = () => {} }) {
  for (let attempt = 0; ; attempt++) {
    const epoch = await keys.currentForEncryption();
    if (!epoch) throw new MissingKeyError("no current channel key");
    const hash = sha256.create();
    let read = 0;
    const encrypter = new Encrypter();
    encrypter.addRecipient(epoch.recipient);
    const plaintext = file.stream().pipeThrough(
      tap((chunk) => {
        hash.update(chunk);
        read += chunk.length;
        onProgress("encrypt", file.size ? read / file.size : 1);
      }),
    );
    // Chromium keeps a large Blob on disk rather than in memory.
    const ciphertext = await new Response(await encrypter.encrypt(plaintext)).blob();
    const meta = { name: file.name, type: file.type || "application/octet-stream", size: read, sha256: hex(hash.digest()) };
    const sealedMeta = await encrypter.encrypt(JSON.stringify(meta));
    const form = new FormData();
    form.append("epoch", String(epoch.number));
    form.append("meta", new Blob([sealedMeta]), "meta.age");
    form.append("file", ciphertext, "file.age");
    onProgress("upload", 0);
    try {
      return await post(`/channels/${encodeURIComponent(keys.channel)}/attachments`, form, (f) => onProgress("upload", f));
    } catch (error) {
      // The epoch went stale or was replaced meanwhile: learn the new one, encrypt again.
      if (!(error instanceof ApiError && error.status === 409) || attempt > 0) throw error;
      await keys.sync();
    }
  }
}

// XHR rather than fetch: it reports upload progress.
function post(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", apiUrl(path));
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      try {
        resolve(parse(xhr.status, xhr.responseText));
      } catch (error) {
        reject(error);
      }
    });
    xhr.addEventListener("error", () => reject(new Error("network error")));
    xhr.addEventListener("abort", () => reject(new Error("upload aborted")));
    xhr.send(form);
  });
}

async function decrypterFor(keys, epoch) {
  const identity = await keys.identityFor(epoch);
  if (!identity) throw new MissingKeyError(`no key for epoch ${epoch}`);
  const decrypter = new Decrypter();
  decrypter.addIdentity(identity);
  return decrypter;
}

// The attachment's meta, decrypted: {name, type, size, sha256}.
export async function readMeta({ keys, attachment }) {
  const answer = await api("GET", `/attachments/${attachment.id}/meta`);
  const decrypter = await decrypterFor(keys, answer.epoch);
  let meta;
  try {
    const sealed = fromBase64(answer.meta);
    checkHeader(sealed);
    meta = JSON.parse(await decrypter.decrypt(sealed, "text"));
  } catch {
    throw new IntegrityError("the meta does not decrypt");
  }
  const valid =
    meta && typeof meta.name === "string" && Number.isSafeInteger(meta.size) && meta.size >= 0 &&
    typeof meta.sha256 === "string" && /^[0-9a-f]{64}$/.test(meta.sha256);
  if (!valid) throw new IntegrityError("the meta is malformed");
  return { name: safeName(meta.name), type: String(meta.type ?? ""), size: meta.size, sha256: meta.sha256 };
}

// Strip what a file name must not carry: directories, control characters.
function safeName(name) {
  // eslint-disable-next-line no-control-regex
  const base = name.split(/[\\/]/).pop().replace(/[\u0000-\u001f\u007f]/g, "").trim();
  return base && base !== "." && base !== ".." ? base : "attachment";
}

// Download, decrypt and verify; resolves to a Blob of the plaintext, rejects with
// IntegrityError for anything truncated or altered. onProgress(fraction) as bytes arrive.
export async function fetchPlaintext({ keys, attachment, meta, onProgress = () => {} }) {
  const decrypter = await decrypterFor(keys, attachment.epoch);
  const response = await fetch(apiUrl(`/attachments/${attachment.id}`), { credentials: "same-origin" });
  if (!response.ok) parse(response.status, await response.text());
  let received = 0;
  const ciphertext = response.body
    .pipeThrough(
      tap((chunk) => {
        received += chunk.length;
        onProgress(attachment.size ? Math.min(received / attachment.size, 1) : 1);
      }),
    )
    .pipeThrough(headerCap());
  const chunks = [];
  const hash = sha256.create();
  let size = 0;
  try {
    const reader = (await decrypter.decrypt(ciphertext)).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      hash.update(value);
      size += value.length;
    }
  } catch (error) {
    chunks.length = 0;
    throw new IntegrityError(`the file does not decrypt: ${error.message}`);
  }
  if (size !== meta.size || hex(hash.digest()) !== meta.sha256) {
    chunks.length = 0;
    throw new IntegrityError("the file is not the one that was uploaded");
  }
  // Saved as opaque bytes: the browser never renders or sniffs it, the name decides.
  return new Blob(chunks, { type: "application/octet-stream" });
}

export function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
