// The user's identity key (SPEC §5): made on first visit, kept in IndexedDB as a
// non-extractable WebCrypto key, backed up on the server under a recovery key that is
// shown once, restored from that backup on another browser, shown as a fingerprint.
//
// The secret exists as an `AGE-SECRET-KEY-1…` string only while the identity is made or
// restored: long enough to write the backup (or read it), then it is imported into
// WebCrypto with extractable = false and the string is dropped.
import { Decrypter, Encrypter, bech32, generateX25519Identity, identityToRecipient } from "../dist/age.js";
import { ApiError, api, fromBase64, toBase64 } from "./api.js";
import * as keystore from "./keystore.js";

const RECOVERY_BYTES = 20; // 160 bits, as 32 base32 characters in 8 groups of 4
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
// The recovery key is random and long, so scrypt's work factor adds nothing against an
// offline attack on the backup; a small one keeps restoring quick on a slow phone.
const SCRYPT_LOG_N = 15;
const PKCS8_X25519 = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);

export class RecoveryCodeError extends Error {}

// --- recovery codes -------------------------------------------------------------------

export function newRecoveryCode() {
  const bytes = crypto.getRandomValues(new Uint8Array(RECOVERY_BYTES));
  let bits = 0;
  let value = 0;
  let text = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      text += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return text.match(/.{4}/g).join("-");
}

// The code as typed (any case, spaces or dashes anywhere, 0 for O, 8 for B) in the one
// form that is the scrypt passphrase; RecoveryCodeError when it cannot be a code.
export function normalizeRecoveryCode(typed) {
  const text = typed.toUpperCase().replace(/[\s-]/g, "").replaceAll("0", "O").replaceAll("8", "B");
  if (text.length !== 32 || [...text].some((c) => !BASE32.includes(c))) {
    throw new RecoveryCodeError("not a recovery code");
  }
  return text.match(/.{4}/g).join("-");
}

// --- fingerprints ---------------------------------------------------------------------

// SHA-256 of the `age1…` recipient, its first 128 bits as 8 groups of 4 hex digits:
// short enough to read out over the phone, long enough that no one can forge a match.
export async function fingerprint(recipient) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(recipient)));
  const hex = [...digest.subarray(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return hex.match(/.{4}/g).join(" ");
}

// --- the identity ---------------------------------------------------------------------

// A WebCrypto X25519 key that cannot be exported, or the string itself where the
// browser has no X25519 in WebCrypto (age-encryption then computes in JavaScript).
async function importIdentity(identity) {
  const { prefix, bytes } = bech32.decodeToBytes(identity);
  if (prefix.toUpperCase() !== "AGE-SECRET-KEY-" || bytes.length !== 32) throw new Error("not an age X25519 identity");
  try {
    const pkcs8 = new Uint8Array([...PKCS8_X25519, ...bytes]);
    return await crypto.subtle.importKey("pkcs8", pkcs8, { name: "X25519" }, false, ["deriveBits"]);
  } catch (error) {
    if (error instanceof DOMException && error.name === "NotSupportedError") return identity;
    throw error;
  } finally {
    bytes.fill(0);
  }
}

function identityLine(plaintext) {
  const line = plaintext.split(/\r?\n/).map((l) => l.trim()).find((l) => l.startsWith("AGE-SECRET-KEY-1"));
  if (!line) throw new Error("no AGE-SECRET-KEY-1 line");
  return line;
}

async function readServerKey() {
  try {
    return (await api("GET", "/keys/me")).public_key;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

async function keep(username, identity, recipient, pendingCode = null) {
  const key = await importIdentity(identity);
  const record = { username, key, recipient, pendingCode, createdAt: new Date().toISOString() };
  await keystore.putIdentity(record);
  return record;
}

// What this browser holds for `username`, checked against the server:
//   { state: "ready", record, code }      the key here is the user's current key; `code`
//                                         is its recovery code until the user says they
//                                         have written it down (else null)
//   { state: "restore", serverKey }       the server has a key this browser does not hold
// Two tabs opened at once must not both make a key: the check runs under a lock.
export function loadIdentity(username, options = {}) {
  const work = () => load(username, options);
  return navigator.locks ? navigator.locks.request(`exchange-identity:${username}`, work) : work();
}

async function load(username, { create = true }) {
  const [local, serverKey] = await Promise.all([keystore.getIdentity(username), readServerKey()]);
  if (local && local.recipient === serverKey) return { state: "ready", record: local, code: local.pendingCode };
  if (local && serverKey === null) {
    // Made here, but the page was left before the server heard of it: say it now.
    await api("PUT", "/keys/me", { public_key: local.recipient });
    return { state: "ready", record: local, code: local.pendingCode };
  }
  if (serverKey !== null || !create) return { state: "restore", serverKey };
  const { record, code } = await createIdentity(username);
  return { state: "ready", record, code };
}

// Make a new identity: the backup first, then the local copy, then the public key. A
// page left halfway leaves a backup that the next attempt replaces, or a local key that
// the next visit registers. The recovery code stays with the local key until the user
// says they have written it down (acknowledgeCode), so leaving the page too early does
// not lose it; from then on it exists nowhere but on the user's paper.
// A new key replaces any earlier one: members' clients then deliver shares to it.
export async function createIdentity(username) {
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  const code = newRecoveryCode();
  const encrypter = new Encrypter();
  encrypter.setPassphrase(code);
  encrypter.setScryptWorkFactor(SCRYPT_LOG_N);
  const backup = await encrypter.encrypt(identity);
  await api("PUT", "/keys/me/backup", { backup: toBase64(backup) });
  const record = await keep(username, identity, recipient, code);
  await api("PUT", "/keys/me", { public_key: recipient });
  return { record, code };
}

export async function acknowledgeCode(username) {
  const record = await keystore.getIdentity(username);
  if (record?.pendingCode) await keystore.putIdentity({ ...record, pendingCode: null });
}

// Open the server's backup with the recovery code and keep the identity here. Rejects
// with RecoveryCodeError for a code that is malformed or does not open the backup.
export async function restoreIdentity(username, typedCode) {
  const code = normalizeRecoveryCode(typedCode);
  const { backup } = await api("GET", "/keys/me/backup");
  const decrypter = new Decrypter();
  decrypter.addPassphrase(code);
  let identity;
  try {
    identity = identityLine(await decrypter.decrypt(fromBase64(backup), "text"));
  } catch {
    throw new RecoveryCodeError("the code does not open the backup");
  }
  const recipient = await identityToRecipient(identity);
  const serverKey = await readServerKey();
  if (serverKey !== recipient) {
    // The backup holds an older key than the one registered: register this one again.
    await api("PUT", "/keys/me", { public_key: recipient });
  }
  return keep(username, identity, recipient);
}

// --- using it -------------------------------------------------------------------------

// Decrypt an age file to the user's identity (a key share), as text.
export async function decryptForMe(record, ciphertext) {
  const decrypter = new Decrypter();
  decrypter.addIdentity(record.key);
  return decrypter.decrypt(ciphertext, "text");
}

export { identityLine };
