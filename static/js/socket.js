// The WebSocket client: hello with resume cursors, heartbeats, reconnect with backoff, and
// resend of unacknowledged messages under the same id. Whether the user is active comes
// from outside (static/js/idle.js: the system's idle state), never from input in this tab.
const CLOSE_NOT_AUTHENTICATED = 4001;
const CLOSE_ACCOUNT_DISABLED = 4009;
// The server's nodes lost messages between them: every connection of a node is closed at
// once to resume from its cursors, so each waits a random part of this before it does.
const CLOSE_RESYNC = 1012;
const RESYNC_SPREAD_MS = 5000;
// A connection can die without closing (a laptop waking from sleep, a network or proxy
// that drops it without a word): the browser then keeps it "open" for many minutes while
// the server has long counted the person offline and nothing reaches them. The server
// answers every heartbeat; when a heartbeat has gone unanswered, with nothing else heard,
// for this many intervals, the socket is given up and a new one resumes from the cursors.
const UNANSWERED_INTERVALS = 2;

// A message id is an opaque token that the server stores and sends on. Letters only
// (about 112 random bits), so that no id can ever read as a personal identity code:
// the server refuses ids that do (a UUID does about once in 2,700).
const ID_LETTERS = "abcdefghijklmnopqrstuvwxyz";

function messageId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(24)), (b) => ID_LETTERS[b % 26]).join("");
}

export class LiaisonSocket extends EventTarget {
  constructor(cursorsFn, helloFn = () => ({})) {
    super();
    this.cursorsFn = cursorsFn; // () => {conversationId: lastSeq}
    this.helloFn = helloFn; // () => more hello fields (presence.js: watch, presence_since)
    this.ws = null;
    this.config = { heartbeat_interval: 10, idle_away_seconds: 600 };
    this.pending = new Map(); // client id -> send frame, until acknowledged
    this.attempt = 0;
    this.active = true;
    this.stopped = false;
    this.connection = null; // the key the server gave this connection (welcome.me.connection)
  }

  // The user is (not) at the computer: told to the server at once.
  setActive(active) {
    if (active === this.active) return;
    this.active = active;
    this.raw({ type: "heartbeat", active });
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/ws`);
    this.ws = ws;
    this.welcomed = false; // frames other than hello wait for the welcome
    ws.addEventListener("open", () => {
      const hello = { type: "hello", v: 1, active: this.active, resume: this.cursorsFn(), ...this.helloFn() };
      ws.send(JSON.stringify(hello));
    });
    ws.addEventListener("message", (event) => {
      this.heardAt = Date.now();
      this.onFrame(JSON.parse(event.data));
    });
    // A socket given up on (abandon) may still report its close much later: ignored.
    ws.addEventListener("close", (event) => ws === this.ws && this.onClose(event));
  }

  // The socket has fallen silent: stop using it now and connect again (with back-off).
  abandon() {
    const ws = this.ws;
    this.ws = null;
    ws.close();
    this.onClose({ code: 1006 });
  }

  onFrame(frame) {
    if (frame.type === "welcome") {
      this.welcomed = true;
      this.attempt = 0;
      this.config = frame.config;
      this.connection = frame.me.connection;
      this.startHeartbeat();
      // Everything not yet acknowledged goes again: the server drops duplicates by id.
      for (const pending of this.pending.values()) this.raw(pending);
      this.dispatchEvent(new CustomEvent("status", { detail: "online" }));
    }
    if (frame.type === "ack") this.pending.delete(frame.id);
    if (frame.type === "error" && frame.request_type === "send" && frame.id) this.pending.delete(frame.id);
    this.dispatchEvent(new CustomEvent("frame", { detail: frame }));
  }

  onClose(event) {
    clearInterval(this.heartbeatTimer);
    if (event.code === CLOSE_NOT_AUTHENTICATED || event.code === CLOSE_ACCOUNT_DISABLED) {
      this.stopped = true;
      window.location.href = `/login?next=${encodeURIComponent(location.pathname)}`;
      return;
    }
    if (this.stopped) return;
    this.dispatchEvent(new CustomEvent("status", { detail: "offline" }));
    const delay =
      event.code === CLOSE_RESYNC
        ? Math.random() * RESYNC_SPREAD_MS
        : Math.min(15000, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt += 1;
    setTimeout(() => this.connect(), delay);
  }

  startHeartbeat() {
    clearInterval(this.heartbeatTimer);
    const interval = this.config.heartbeat_interval * 1000;
    this.heardAt = Date.now();
    this.heartbeatSentAt = null;
    // Measured from the heartbeat left unanswered, not from the last frame: a background
    // tab's timers may fire only once a minute, and a quiet but live socket is fine.
    this.heartbeatTimer = setInterval(() => {
      const sent = this.heartbeatSentAt;
      if (sent !== null && this.heardAt < sent && Date.now() - sent >= UNANSWERED_INTERVALS * interval) {
        this.abandon();
        return;
      }
      if (this.raw({ type: "heartbeat", active: this.active }) && (sent === null || this.heardAt >= sent)) {
        this.heartbeatSentAt = Date.now();
      }
    }, interval);
  }

  raw(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  sendMessage(conversationId, body) {
    const id = messageId();
    const frame = { type: "send", id, conversation_id: conversationId, body };
    this.pending.set(id, frame);
    this.raw(frame);
    return id;
  }
}
