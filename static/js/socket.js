// The live connection to one channel: subscribe, catch up, send, reconnect.
//
// Promises kept here (SPEC §8): after a reconnect the socket subscribes with
// `after` = the newest id it has seen, so nothing is missed; messages are keyed by id,
// so nothing is shown twice; a jump in `seq` means the server dropped a broadcast,
// and the gap is fetched over HTTP. Unacknowledged sends are resent with the same
// client_id after a reconnect: the server stores them once.

const MAX_BACKOFF_MS = 15000;

export class ChannelConnection {
  constructor({ channel, onMessage, onStatus, onError }) {
    this.channel = channel;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.onError = onError;
    this.lastId = 0;
    this.lastSeq = 0;
    this.seen = new Set();
    this.outbox = new Map(); // client_id -> frame, until acknowledged
    this.backoff = 500;
    this.closed = false;
  }

  open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.ws = new WebSocket(`${scheme}://${location.host}/ws/v1/`);
    this.onStatus("connecting");
    this.ws.addEventListener("open", () => {
      this.backoff = 500;
      const frame = { type: "subscribe", channel: this.channel };
      if (this.lastId) frame.after = this.lastId;
      this.ws.send(JSON.stringify(frame));
    });
    this.ws.addEventListener("message", (event) => this.#receive(JSON.parse(event.data)));
    this.ws.addEventListener("close", () => {
      this.onStatus("offline");
      if (!this.closed) {
        setTimeout(() => this.open(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
      }
    });
  }

  send(body, parent = null) {
    const frame = { type: "message.send", channel: this.channel, client_id: crypto.randomUUID(), body };
    if (parent) frame.parent = parent;
    this.outbox.set(frame.client_id, frame);
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
    return frame.client_id;
  }

  close() {
    this.closed = true;
    this.ws?.close();
  }

  async #receive(frame) {
    switch (frame.type) {
      case "subscribed":
        this.onStatus("online");
        for (const message of frame.messages) this.#accept(message);
        if (frame.messages.length === 200) await this.#fetchAfter(this.lastId);
        for (const pending of this.outbox.values()) this.ws.send(JSON.stringify(pending));
        break;
      case "message.new":
        if (this.lastSeq && frame.message.seq > this.lastSeq + 1) await this.#fetchAfter(this.lastId);
        this.#accept(frame.message);
        break;
      case "message.updated":
      case "message.deleted":
        this.onMessage(frame.message, { replace: true });
        break;
      case "message.ack":
        this.outbox.delete(frame.client_id);
        this.#accept(frame.message);
        break;
      case "channel.revoked":
        this.closed = true;
        this.onError({ code: "revoked" });
        this.ws.close();
        break;
      case "error":
        if (frame.ref) this.outbox.delete(frame.ref);
        this.onError(frame);
        break;
    }
  }

  #accept(message) {
    if (this.seen.has(message.id)) return;
    this.seen.add(message.id);
    this.lastId = Math.max(this.lastId, message.id);
    this.lastSeq = Math.max(this.lastSeq, message.seq);
    this.onMessage(message, { replace: false });
  }

  // Fetch everything after `after` over HTTP, page by page, to fill a gap.
  async #fetchAfter(after) {
    for (let page = 0; page < 50; page++) {
      const url = `/api/v1/channels/${encodeURIComponent(this.channel)}/messages?after=${after}&limit=200`;
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) return;
      const messages = await response.json();
      for (const message of messages) this.#accept(message);
      if (messages.length < 200) return;
      after = messages[messages.length - 1].id;
    }
  }
}
