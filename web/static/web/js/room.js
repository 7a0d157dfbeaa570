// A stream's live room over Socket.IO (the vendored official client, global `io`):
// chat with history, the viewer count, notifications, the end banner, the connection state
// and the server's errors, rendered into the markup of web/_room.html. The events and their
// payloads are those of docs/asyncapi.yaml.
import * as auth from "./auth.js";
import { $, el, notify, showError, time } from "./ui.js";

const ACK_TIMEOUT_MS = 10_000;
const ERROR_EVENTS = ["room_join_error", "message_error", "moderation_error", "notification_room_join_error"];

export class LiveRoom {
  constructor(root, streamId, { onJoined = () => {}, onEnded = () => {} } = {}) {
    this.root = root;
    this.streamId = streamId;
    this.onJoined = onJoined;
    this.onEnded = onEnded;
    this.ended = false;
    this.chat = $("#chat", root);
    this.form = $("#chat-form", root);
    this.input = $("#chat-input", root);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
  }

  start() {
    // auth as a function: every (re)connection sends the token current at that moment.
    const socket = io({ auth: (callback) => callback({ token: auth.accessToken() }) });
    this.socket = socket;
    this.state("connecting…");
    socket.on("connect", () => {
      this.state("connected");
      // A recovered session is still in its rooms and was sent what it missed.
      if (socket.recovered) return this.enable(true);
      this.join();
    });
    // Leaving the page says goodbye, so the viewer leaves the count now, not when
    // the recovery window of a dropped connection runs out (docs/events.md).
    window.addEventListener("pagehide", () => socket.disconnect());
    window.addEventListener("pageshow", (event) => event.persisted && socket.connect());
    socket.on("connect_error", async (error) => {
      // A transport failure: the client retries by itself, there is nothing to read.
      if (socket.active) return this.state("cannot reach the server, reconnecting…");
      this.error(error.message); // refused by the server: its words
      // An expired token, say: one more try with a fresh one.
      if (error.message === "Authentication error" && !this.retried && (await auth.refresh())) {
        this.retried = true;
        return socket.connect();
      }
      this.state("refused by the server");
    });
    socket.io.on("reconnect_attempt", (attempt) => this.state(`reconnecting (attempt ${attempt})…`));
    socket.on("disconnect", (reason) => {
      this.enable(false);
      if (this.ended) this.state("stream ended");
      else if (reason === "io server disconnect") this.state("disconnected by the server");
      else this.state("connection lost, reconnecting…");
    });
    for (const name of ERROR_EVENTS) socket.on(name, ({ message }) => this.error(message));
    socket.on("room_joined_successfully", (payload) => this.onJoined(payload));
    socket.on("recent_chat_history", ({ messages }) => {
      this.chat.replaceChildren(...messages.map((message) => this.line(message)));
    });
    socket.on("new_message", (message) => this.append(this.line(message)));
    socket.on("viewer_count_updated", ({ count }) => {
      $("#count", this.root).textContent = String(count);
    });
    socket.on("message_deleted", ({ messageId }) => {
      this.chat.querySelector(`[data-id="${CSS.escape(messageId)}"]`)?.remove();
    });
    socket.on("chat_cleared", () => {
      this.chat.replaceChildren(this.system("A moderator cleared the chat."));
    });
    socket.on("user_timed_out", ({ userId, until }) =>
      this.append(this.system(`${this.who(userId)} timed out until ${time(until)}.`)),
    );
    socket.on("user_banned", ({ userId }) => this.append(this.system(`${this.who(userId)} banned from the chat.`)));
    socket.on("user_unbanned", ({ userId }) => this.append(this.system(`${this.who(userId)} may chat again.`)));
    socket.on("slow_mode_changed", ({ seconds }) =>
      this.append(this.system(seconds ? `Slow mode: one message every ${seconds} s.` : "Slow mode is off.")),
    );
    socket.on("stream_status", ({ status }) =>
      this.state(status === "reconnecting" ? "the broadcaster is reconnecting…" : "connected"),
    );
    socket.on("notification", ({ kind, data }) => notify(data?.message ?? `${kind}: ${JSON.stringify(data)}`));
    socket.on("access_revoked", ({ message }) => {
      this.error(message);
      auth.logout();
    });
    socket.on("stream_ended_notification", ({ message }) => {
      this.ended = true;
      this.error(null);
      $("#count", this.root).textContent = "0";
      const banner = $("#banner", this.root);
      banner.textContent = `This stream has ended: ${message}`;
      banner.hidden = false;
      this.enable(false);
      this.onEnded(message);
    });
  }

  stop() {
    this.socket?.disconnect();
  }

  join() {
    this.socket.timeout(ACK_TIMEOUT_MS).emit("join_stream_room", { streamId: this.streamId }, (err, ack) => {
      if (err) return this.error("The server did not answer, please reload the page");
      if (!ack.ok) return; // room_join_error says why
      this.error(null);
      $("#count", this.root).textContent = String(ack.count);
      this.enable(true);
    });
    this.socket.emit("join_notification_room");
  }

  send() {
    const message = this.input.value;
    this.socket.timeout(ACK_TIMEOUT_MS).emit("chat_message", { streamId: this.streamId, message }, (err, ack) => {
      if (err) return this.error("The server did not answer, please try again");
      if (!ack.ok) return; // message_error says why
      this.error(null);
      if (this.input.value === message) this.input.value = "";
    });
  }

  enable(on) {
    this.input.disabled = !on;
    this.form.querySelector("button").disabled = !on;
  }

  state(text) {
    $("#connection", this.root).textContent = text;
  }

  error(message) {
    showError($("#errors", this.root), message);
  }

  who(userId) {
    return userId === auth.userId() ? "You were" : `User ${userId} was`;
  }

  line({ id, username, message, timestamp }) {
    return el(
      "li",
      { "data-id": id },
      el("time", { datetime: timestamp, text: time(timestamp) }),
      " ",
      el("strong", { text: username }),
      " ",
      el("span", { text: message }),
    );
  }

  system(text) {
    return el("li", { class: "system", text });
  }

  append(item) {
    const atBottom = this.chat.scrollHeight - this.chat.scrollTop - this.chat.clientHeight < 40;
    this.chat.append(item);
    if (atBottom) this.chat.scrollTop = this.chat.scrollHeight;
  }
}
