// A channel's keys (SPEC §5): its epochs, this user's share of each, and the duties of a
// member's client, done without anyone clicking anything:
// - the first keyed member of a channel with no epoch starts epoch 1;
// - when the current epoch is stale (someone left), a client holding it starts the next,
//   with a back-link to it where the channel shows all history;
// - a client holding the current epoch delivers the shares members wait for;
// - old epochs are reached through the back-links from one this user holds.
//
// Work is done one step at a time (a queue), so two frames never race each other here;
// races with other clients end in a 409 from the server, after which we look again.
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from "../dist/age.js";
import { ApiError, api, fromBase64, logProblem, toBase64 } from "./api.js";
import { decryptForMe, fingerprint, identityLine } from "./keys.js";
import * as keystore from "./keystore.js";

const ROUNDS = 4; // how often one sync looks again after losing a race
// A moderator's client replaces a stale epoch at once; other members' clients give it
// this long (plus up to as much again, at random) before doing it themselves.
const MEMBER_ROTATION_DELAY_MS = 3000;

export class ChannelKeys extends EventTarget {
  // state: "starting" | "no-identity" | "no-epoch" | "waiting" | "stale" | "ready" | "error"
  constructor({ channel, username, historyVisibility, isModerator = false }) {
    super();
    this.channel = channel;
    this.username = username;
    this.historyAll = historyVisibility !== "since_join";
    this.isModerator = isModerator;
    this.staleSeen = null; // the stale epoch a member's client is giving moderators time for
    this.staleTimer = null;
    this.deliveryAsked = false; // the server said members wait for shares
    this.record = undefined; // the user's identity (keys.js); null: not on this browser
    this.epochs = []; // as the server lists them
    this.identities = new Map(); // epoch number -> AGE-SECRET-KEY-1… string
    this.state = "starting";
    this.error = null;
    this.queue = Promise.resolve();
  }

  get path() {
    return `/channels/${encodeURIComponent(this.channel)}`;
  }

  // The identity is ready (made, loaded or restored): look at the channel's keys.
  setIdentity(record) {
    this.record = record;
    this.identities.clear(); // shares are per key: a new key reads them afresh
    return this.sync();
  }

  // Frames from the socket (SPEC §4) that concern keys.
  handleFrame(frame) {
    if (frame.channel !== this.channel) return;
    switch (frame.type) {
      case "subscribed":
      case "epoch.new":
      case "share.available":
        this.sync();
        break;
      case "shares.pending":
        // Kept until this client holds the current epoch (its identity may still be
        // loading): the sync that gets there delivers.
        this.deliveryAsked = true;
        this.sync();
        break;
    }
  }

  // Never rejects: a failure shows as state "error" (and the next frame tries again).
  sync() {
    return this.#enqueue(() => this.#sync()).catch((error) => this.#fail(error));
  }

  // The epoch to encrypt to: { number, recipient }, or null while there is none this
  // client may use (none yet, not shared with us yet, or stale and about to be replaced).
  async currentForEncryption() {
    await this.queue;
    const current = this.epochs.at(-1);
    if (!current || current.stale || !this.identities.has(current.number)) return null;
    return { number: current.number, recipient: current.public_key };
  }

  // The identity of epoch `number`: from the cache, this user's share, or by walking
  // back-links down from a later epoch this user holds. null when none leads there.
  identityFor(number) {
    return this.#enqueue(() => this.#identityFor(number));
  }

  #enqueue(work) {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  #setState(state) {
    if (state !== "error") this.error = null;
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new Event("change"));
  }

  #fail(error) {
    logProblem("channel keys", error);
    this.error = error;
    this.state = "error";
    this.dispatchEvent(new Event("change"));
  }

  async #sync() {
    if (this.record === undefined) return; // the key panel has not looked yet
    if (this.record === null) return this.#setState("no-identity");
    for (let round = 0; round < ROUNDS; round++) {
      this.epochs = await api("GET", `${this.path}/epochs`);
      const current = this.epochs.at(-1);
      if (!current) {
        this.#setState("no-epoch");
        if (await this.#start(1, null)) continue;
        return;
      }
      const held = await this.#ownIdentity(current);
      if (current.stale) {
        this.#setState("stale");
        if ((held || !this.historyAll) && this.#mayRotate(current)) {
          if (await this.#start(current.number + 1, held)) continue;
        }
        return; // a member who holds it will rotate; epoch.new tells us
      }
      this.#setState(held ? "ready" : "waiting");
      this.dispatchEvent(new Event("keys"));
      if (held && this.deliveryAsked) {
        this.deliveryAsked = false;
        await this.#deliverPending();
      }
      return;
    }
  }

  // Whether to replace the stale epoch now: at once for a moderator, after a pause for
  // other members (a later sync, scheduled here, looks again).
  #mayRotate(epoch) {
    if (this.isModerator || this.staleSeen === epoch.number) return true;
    this.staleSeen = epoch.number;
    clearTimeout(this.staleTimer);
    const delay = MEMBER_ROTATION_DELAY_MS * (1 + Math.random());
    this.staleTimer = setTimeout(() => this.sync(), delay);
    return false;
  }

  // This user's own copy of an epoch: cached, or their share (checked against the
  // epoch's public key, so a forged share is never used). null when there is no share.
  async #ownIdentity(epoch) {
    const number = epoch.number;
    const known = this.identities.get(number) ?? (await keystore.getEpoch(this.username, this.channel, number));
    if (known) {
      this.identities.set(number, known);
      return known;
    }
    let share;
    try {
      share = await api("GET", `${this.path}/epochs/${number}/share`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
    const identity = identityLine(await decryptForMe(this.record, fromBase64(share.ciphertext)));
    return this.#remember(epoch, identity);
  }

  async #remember(epoch, identity) {
    if ((await identityToRecipient(identity)) !== epoch.public_key) {
      throw new Error(`the key offered for epoch ${epoch.number} is not that epoch's key`);
    }
    this.identities.set(epoch.number, identity);
    await keystore.putEpoch(this.username, this.channel, epoch.number, identity);
    return identity;
  }

  async #identityFor(number) {
    if (!this.record) return null;
    if (!this.epochs.some((e) => e.number === number)) {
      this.epochs = await api("GET", `${this.path}/epochs`);
    }
    const index = this.epochs.findIndex((e) => e.number === number);
    if (index < 0) return null;
    // The nearest epoch at or above `number` that this user holds, then down the links.
    let from = -1;
    let identity = null;
    for (let i = index; i < this.epochs.length && !identity; i++) {
      identity = await this.#ownIdentity(this.epochs[i]);
      from = i;
    }
    if (!identity) return null;
    for (let i = from; i > index; i--) {
      const later = this.epochs[i];
      const earlier = this.epochs[i - 1];
      const cached = this.identities.get(earlier.number);
      if (cached) {
        identity = cached;
        continue;
      }
      if (!later.back_link || earlier.number !== later.number - 1) return null; // since_join
      const decrypter = new Decrypter();
      decrypter.addIdentity(identity);
      const text = await decrypter.decrypt(fromBase64(later.back_link), "text");
      identity = await this.#remember(earlier, identityLine(text));
    }
    return identity;
  }

  // Start epoch `number` with shares for every member who has a key. Returns true when
  // something changed (ours or someone else's epoch now exists: look again), false when
  // this client may not start it.
  async #start(number, previous) {
    const identity = await generateX25519Identity();
    const recipient = await identityToRecipient(identity);
    const payload = { number, public_key: recipient, shares: [] };
    if (number > 1 && this.historyAll) {
      payload.back_link = toBase64(await encryptTo(recipient, this.#identityFile(number - 1, previous)));
    }
    const secret = this.#identityFile(number, identity);
    for (let attempt = 0; attempt < ROUNDS; attempt++) {
      const members = (await api("GET", `${this.path}/members`)).filter((m) => m.public_key);
      await this.#notePeers(members);
      payload.shares = await Promise.all(
        members.map(async (m) => ({
          username: m.username,
          ciphertext: toBase64(await encryptTo(m.public_key, secret)),
        })),
      );
      try {
        const epoch = await api("POST", `${this.path}/epochs`, payload);
        await this.#remember(epoch, identity);
        return true;
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.status === 409 && (error.detail.missing || error.detail.unexpected)) continue;
        if (error.status === 409) return true; // someone else started it first
        if (error.status === 403) return false;
        throw error;
      }
    }
    return true;
  }

  // Make the shares members wait for, from the current epoch this client holds.
  async #deliverPending() {
    if (!this.record) return;
    const pending = await api("GET", `${this.path}/shares/pending`);
    if (!pending.length) return;
    await this.#notePeers(pending);
    const shares = [];
    for (const p of pending) {
      const epoch = this.epochs.find((e) => e.number === p.epoch);
      const identity = epoch && (await this.#ownIdentity(epoch));
      if (!identity) continue;
      const ciphertext = await encryptTo(p.public_key, this.#identityFile(p.epoch, identity));
      shares.push({ epoch: p.epoch, username: p.username, ciphertext: toBase64(ciphertext) });
    }
    if (!shares.length) return;
    try {
      await api("POST", `${this.path}/shares`, { shares });
    } catch (error) {
      // Another member delivered first, or someone's key changed meanwhile: the server
      // asks again (shares.pending) if anyone still waits.
      if (!(error instanceof ApiError && error.status === 409)) throw error;
    }
  }

  // Trust on first use: remember each member's key, and say so when one changes.
  async #notePeers(members) {
    for (const m of members) {
      if (m.username === this.username) continue;
      const seen = await keystore.getPeer(this.username, m.username);
      if (seen && seen !== m.public_key) {
        const detail = { username: m.username, fingerprint: await fingerprint(m.public_key) };
        this.dispatchEvent(new CustomEvent("peer-key-changed", { detail }));
      }
      if (seen !== m.public_key) await keystore.putPeer(this.username, m.username, m.public_key);
    }
  }

  #identityFile(number, identity) {
    return `# channel ${this.channel} epoch ${number}\n${identity}\n`;
  }
}

export async function encryptTo(recipient, plaintext) {
  const encrypter = new Encrypter();
  encrypter.addRecipient(recipient);
  return encrypter.encrypt(plaintext);
}
