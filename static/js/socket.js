// The live connection to one channel: subscribe, catch up, send, reconnect.
//
// Promises kept here (SPEC §8): after a reconnect the socket subscribes with
// `after` = the newest id up to which nothing is missing, so nothing is missed;
// messages are keyed by id, so nothing is shown twice; a jump in `seq` means a
// broadcast was dropped, and the gap is fetched over HTTP. Unacknowledged sends are
// resent with the same client_id after a reconnect: the server stores them once.
//
// Frames are handled one after the other (a gap fetch holds back the frames behind
// it), so the bookkeeping below never sees two frames at once.

const MAX_BACKOFF_MS = 15000;
const PAGE = 200; // the server's largest page, over HTTP and in a subscribe backlog
const FETCH_TIMEOUT_MS = 15000;
const SIGNED_OUT = 4401; // the close code the server uses for an inactive account

export class ChannelConnection {
  constructor({ channel, onMessage, onStatus, onError, onEnd, onOutbox = () => {}, onFrame = () => {} }) {
    this.channel = channel;
    this.onMessage = onMessage; // (message, { replace }) for every message to show
    this.onStatus = onStatus; // ("connecting" | "online" | "offline")
    this.onError = onError; // (errorFrame, refusedSendFrame | undefined)
    this.onEnd = onEnd; // ("revoked" | "signed-out"): the connection gives up for good
    this.onOutbox = onOutbox; // (count of sends not yet acknowledged)
    this.onFrame = onFrame; // (frame) every frame, once handled here: keys listen for theirs
    // Every message up to `lastSeq` (and `lastId`) has been handed to onMessage.
    this.lastSeq = 0;
    this.lastId = 0;
    this.ahead = new Map(); // seq -> id of messages seen beyond a gap
    this.newestSeq = 0;
    this.newestId = 0;
    this.seen = new Set();
    this.catchingUp = false; // whether the current subscribe asked for `after`
    this.outbox = new Map(); // client_id -> frame, until acknowledged
    this.backoff = 500;
    this.closed = false;
    this.queue = Promise.resolve();
  }

  open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/v1/`);
    let opened = false;
    this.ws = ws;
    this.onStatus("connecting");
    ws.addEventListener("open", () => {
      opened = true;
      this.backoff = 500;
      const frame = { type: "subscribe", channel: this.channel };
      if (this.lastId) frame.after = this.lastId;
      this.catchingUp = Boolean(frame.after);
      ws.send(JSON.stringify(frame));
    });
    ws.addEventListener("message", (event) => {
      this.queue = this.queue
        .then(() => this.#receive(JSON.parse(event.data)))
        .catch((error) => console.error("exchange socket: frame not handled", error));
    });
    ws.addEventListener("close", (event) => this.#lost(ws, event, opened));
  }

  send(body, parent = null, attachments = [], evaluation = null) {
    const frame = { type: "message.send", channel: this.channel, client_id: crypto.randomUUID(), body };
    if (parent) frame.parent = parent;
    if (attachments.length) frame.attachments = attachments;
    if (evaluation) frame.evaluation = evaluation;
    this.outbox.set(frame.client_id, frame);
    this.onOutbox(this.outbox.size);
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
    return frame.client_id;
  }

  close() {
    this.closed = true;
    this.ws?.close();
  }

  async #lost(ws, event, opened) {
    if (this.closed || ws !== this.ws) return;
    if (event.code === SIGNED_OUT) return this.#end("signed-out");
    this.onStatus("offline");
    // A refused handshake looks like a network failure to the page: ask whether the
    // session is still there before trying again and again.
    if (!opened && (await this.#signedOut())) return this.#end("signed-out");
    setTimeout(() => this.open(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
  }

  async #signedOut() {
    try {
      const response = await fetch("/api/v1/me", {
        credentials: "same-origin", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
      return response.status === 401;
    } catch {
      return false; // the server is unreachable: keep trying
    }
  }

  #end(reason) {
    this.closed = true;
    this.ws?.close();
    this.onEnd(reason);
  }

  async #receive(frame) {
    switch (frame.type) {
      case "subscribed":
        if (frame.channel !== this.channel) break;
        for (const message of frame.messages) this.#accept(message);
        // The backlog is the newest page, or everything after `after` in pages of PAGE.
        if (!this.catchingUp || frame.messages.length < PAGE) {
          this.#settle(this.newestSeq, this.newestId);
          this.onStatus("online");
        } else {
          const last = frame.messages[frame.messages.length - 1];
          this.#settle(last.seq, last.id);
          this.onStatus("online");
          await this.#catchUp();
        }
        for (const pending of this.outbox.values()) this.ws.send(JSON.stringify(pending));
        break;
      case "message.new":
        this.#accept(frame.message);
        if (this.ahead.size) await this.#catchUp();
        break;
      case "message.ack":
        this.outbox.delete(frame.client_id);
        this.onOutbox(this.outbox.size);
        this.#accept(frame.message);
        if (this.ahead.size) await this.#catchUp();
        break;
      case "message.updated":
      case "message.deleted":
        this.onMessage(frame.message, { replace: true });
        break;
      case "channel.revoked":
        if (frame.channel === this.channel) this.#end("revoked");
        break;
      case "error":
        if (frame.ref) {
          const refused = this.outbox.get(frame.ref);
          this.outbox.delete(frame.ref);
          this.onOutbox(this.outbox.size);
          this.onError(frame, refused);
        } else if (frame.channel === this.channel && ["forbidden", "not_found"].includes(frame.code)) {
          this.#end("revoked"); // the subscribe was refused: access ended while offline
        } else {
          this.onError(frame);
        }
        break;
    }
    this.onFrame(frame);
  }

  #accept(message) {
    if (this.seen.has(message.id)) return;
    this.seen.add(message.id);
    this.onMessage(message, { replace: false });
    if (message.seq > this.newestSeq) [this.newestSeq, this.newestId] = [message.seq, message.id];
    if (message.seq > this.lastSeq) this.ahead.set(message.seq, message.id);
    this.#settle(this.lastSeq, this.lastId);
  }

  // Record that nothing is missing up to `seq`, then move on over what is contiguous.
  #settle(seq, id) {
    if (seq > this.lastSeq) [this.lastSeq, this.lastId] = [seq, Math.max(this.lastId, id)];
    for (const ahead of this.ahead.keys()) if (ahead <= this.lastSeq) this.ahead.delete(ahead);
    while (this.ahead.has(this.lastSeq + 1)) {
      this.lastSeq += 1;
      this.lastId = Math.max(this.lastId, this.ahead.get(this.lastSeq));
      this.ahead.delete(this.lastSeq);
    }
  }

  // Fetch everything after the last id up to which nothing is missing, page by page.
  // A complete answer is the server's word on what exists, so afterwards nothing is
  // missing up to the newest message seen (a since_join channel hides earlier seqs).
  async #catchUp() {
    let after = this.lastId;
    for (let page = 0; page < 50; page++) {
      const url = `/api/v1/channels/${encodeURIComponent(this.channel)}/messages?after=${after}&limit=${PAGE}`;
      let messages;
      try {
        const response = await fetch(url, {
          credentials: "same-origin", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
        });
        if (!response.ok) return; // the next message or reconnect tries again
        messages = await response.json();
      } catch {
        return;
      }
      for (const message of messages) this.#accept(message);
      if (messages.length < PAGE) {
        this.#settle(this.newestSeq, this.newestId);
        return;
      }
      after = messages[messages.length - 1].id;
    }
  }
}
