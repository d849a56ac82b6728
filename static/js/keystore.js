// The browser's key store (IndexedDB), per signed-in user:
// - the user's identity: a non-extractable X25519 CryptoKey where WebCrypto has X25519
//   (so no script, ours included, can read the secret back out), else the age string;
// - channel epoch identities already opened (a cache: each can be fetched and decrypted
//   again from the user's share or a back-link);
// - the keys seen for other members, to notice when one changes.

const DB_NAME = "exchange-e2ee";
const VERSION = 1;
let opening = null;

function open() {
  opening ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore("identities", { keyPath: "username" });
      db.createObjectStore("epochs"); // [username, channel, number] -> identity string
      db.createObjectStore("peers"); // [username, peer] -> recipient last seen
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error("The key store is blocked by another tab."));
  });
  return opening;
}

async function run(store, mode, work) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode);
    const request = work(tx.objectStore(store));
    tx.oncomplete = () => resolve(request?.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("key store transaction aborted"));
  });
}

// { username, key: CryptoKey | string, recipient: "age1…", createdAt } or undefined
export function getIdentity(username) {
  return run("identities", "readonly", (store) => store.get(username));
}

export function putIdentity(record) {
  return run("identities", "readwrite", (store) => store.put(record));
}

export function deleteIdentity(username) {
  return run("identities", "readwrite", (store) => store.delete(username));
}

export function getEpoch(username, channel, number) {
  return run("epochs", "readonly", (store) => store.get([username, channel, number]));
}

export function putEpoch(username, channel, number, identity) {
  return run("epochs", "readwrite", (store) => store.put(identity, [username, channel, number]));
}

export function getPeer(username, peer) {
  return run("peers", "readonly", (store) => store.get([username, peer]));
}

export function putPeer(username, peer, recipient) {
  return run("peers", "readwrite", (store) => store.put(recipient, [username, peer]));
}
