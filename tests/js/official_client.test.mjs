// End-to-end tests of the Socket.IO gateway with the official JS client.
//
// Run by tests/js/test_official_client.py, which starts the server, creates
// the users and streams, and passes them in the environment:
//
//   LIVESTREAM_URL      base URL of the running server, e.g. http://127.0.0.1:8123
//                       (https://: a TLS server with a self-signed test certificate;
//                       fetch is told by NODE_TLS_REJECT_UNAUTHORIZED=0)
//   LIVESTREAM_FIXTURE  JSON: {
//     badToken: string,
//     users: {viewerA, viewerB, streamer, ...: {id, username, token}},
//     streams: {chat, endRest, endCommand: {id, streamerToken}},  one live stream per case
//     python: string, root: string    to run `manage.py end_stream` (case d)
//   }
//   LIVESTREAM_CLIENT_MODE  which client options every case uses (TRANSPORT_OPTIONS):
//     "websocket" (transports: ["websocket"]), "default" (no options but auth:
//     long-polling, then the upgrade), "polling" (transports: ["polling"]),
//     "no-upgrade" (upgrade: false)
//
// Every wait has a timeout and every socket is closed in after(), so the node
// process always exits.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, test } from "node:test";
import { promisify } from "node:util";

import { io } from "socket.io-client";

const URL = process.env.LIVESTREAM_URL;
const FIXTURE = JSON.parse(process.env.LIVESTREAM_FIXTURE ?? "null");
if (!URL || !FIXTURE) {
  throw new Error("LIVESTREAM_URL and LIVESTREAM_FIXTURE must be set (see test_official_client.py)");
}

const MODE = process.env.LIVESTREAM_CLIENT_MODE ?? "websocket";
const TRANSPORT_OPTIONS = {
  websocket: { transports: ["websocket"] },
  default: {},
  polling: { transports: ["polling"] },
  "no-upgrade": { upgrade: false },
}[MODE];
if (!TRANSPORT_OPTIONS) throw new Error(`unknown LIVESTREAM_CLIENT_MODE ${MODE}`);
// The transport a connected socket ends up on, in each mode.
const FINAL_TRANSPORT = MODE === "websocket" || MODE === "default" ? "websocket" : "polling";

const WAIT_MS = 5000;
const ISO_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const sockets = [];

after(() => {
  for (const socket of sockets) socket.close();
});

/** A socket with an inbox of everything it received, in order (disconnects included). */
function client(token, { auth = { token } } = {}) {
  const socket = io(URL, {
    ...TRANSPORT_OPTIONS,
    rejectUnauthorized: false, // the TLS run's certificate is self-signed
    auth,
    reconnection: false,
    forceNew: true,
    timeout: WAIT_MS,
  });
  sockets.push(socket);
  socket.inbox = [];
  socket.waiters = new Set();
  const record = (event, data) => {
    socket.inbox.push({ event, data });
    for (const wake of socket.waiters) wake();
  };
  socket.onAny((event, data) => record(event, data));
  socket.on("connect_error", (err) => record("connect_error", err));
  socket.on("disconnect", (reason) => record("disconnect", reason));
  socket.io.on("open", () => {
    record("transport", socket.io.engine.transport.name);
    socket.io.engine.on("upgrade", (transport) => record("upgrade", transport.name));
  });
  return socket;
}

function describeInbox(socket) {
  return JSON.stringify(socket.inbox.map(({ event, data }) => [event, data instanceof Error ? data.message : data]));
}

/**
 * The first payload of `event` received by `socket` (already or later) that
 * matches `predicate`; rejects after `ms`.
 */
function waitFor(socket, event, predicate = () => true, ms = WAIT_MS) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const found = socket.inbox.find((e) => e.event === event && predicate(e.data));
      if (found) {
        done();
        resolve(found.data);
      }
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no ${event} within ${ms}ms; received: ${describeInbox(socket)}`));
    }, ms);
    const done = () => {
      clearTimeout(timer);
      socket.waiters.delete(check);
    };
    socket.waiters.add(check);
    check();
  });
}

/** Resolves once `socket` is connected, rejects on connect_error or after `ms`. */
function connected(socket, ms = WAIT_MS) {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`not connected within ${ms}ms`));
    }, ms);
    const onConnect = () => {
      cleanup();
      resolve();
    };
    const onError = (err) => {
      cleanup();
      reject(new Error(`connect_error: ${err.message}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
    };
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
  });
}

function indexOf(socket, event) {
  return socket.inbox.findIndex((e) => e.event === event);
}

async function joinRoom(socket, streamId) {
  const ack = await socket.timeout(WAIT_MS).emitWithAck("join_stream_room", { streamId });
  assert.equal(ack.ok, true, `join ack: ${JSON.stringify(ack)}`);
  assert.equal(ack.streamId, streamId);
  const joined = await waitFor(socket, "room_joined_successfully");
  assert.equal(joined.streamId, streamId);
  assert.ok("streamKeyForDev" in joined, `room_joined_successfully: ${JSON.stringify(joined)}`);
  const history = await waitFor(socket, "recent_chat_history");
  assert.equal(history.streamId, streamId);
  assert.ok(Array.isArray(history.messages), `recent_chat_history: ${JSON.stringify(history)}`);
  return { ack, joined, history };
}

const execFileAsync = promisify(execFile);

/**
 * Ends a stream the way the rest of the system does: the REST API (inside the
 * server process) or `manage.py end_stream` (another process, via Redis).
 */
async function endStream(stream, via, reason = "") {
  if (via === "command") {
    // The environment (DJANGO_SETTINGS_MODULE, DATABASE_URL, REDIS_URL, ...)
    // is the pytest wrapper's child_env(), inherited as-is.
    const args = ["manage.py", "end_stream", stream.id, ...(reason ? ["--reason", reason] : [])];
    await execFileAsync(FIXTURE.python, args, { cwd: FIXTURE.root, timeout: 30_000 });
    return;
  }
  const res = await fetch(`${URL}/api/streams/${stream.id}/end/`, {
    method: "POST",
    headers: { Authorization: `Bearer ${stream.streamerToken}`, "Content-Type": "application/json" },
    body: JSON.stringify(reason ? { reason } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  const body = await res.text();
  assert.ok(res.ok, `POST /api/streams/${stream.id}/end/ -> ${res.status} ${body}`);
  assert.equal(JSON.parse(body).status, "ended", body);
}

test("(a) a bad token is refused with connect_error 'Authentication error'", { timeout: 30_000 }, async () => {
  const bad = client(FIXTURE.badToken);
  const err = await waitFor(bad, "connect_error");
  assert.ok(err instanceof Error);
  assert.equal(err.message, "Authentication error");
  assert.equal(bad.connected, false);
  assert.equal(bad.active, false, "reconnection: false must not retry");

  const anonymous = client(null, { auth: {} });
  const err2 = await waitFor(anonymous, "connect_error");
  assert.equal(err2.message, "Authentication error");
});

test("(b) two clients join a live stream and chat", { timeout: 30_000 }, async () => {
  const { viewerA, viewerB, streamer } = FIXTURE.users;
  const streamId = FIXTURE.streams.chat.id;
  const a = client(viewerA.token);
  const b = client(viewerB.token);
  await Promise.all([connected(a), connected(b)]);

  await joinRoom(a, streamId);
  const { history } = await joinRoom(b, streamId);
  assert.deepEqual(history.messages, [], "a new stream has no chat history");

  const twoViewers = (d) => d.streamId === streamId && d.count === 2;
  await Promise.all([waitFor(a, "viewer_count_updated", twoViewers), waitFor(b, "viewer_count_updated", twoViewers)]);

  const text = "xin chào từ official client 👋";
  const ack = await a.timeout(WAIT_MS).emitWithAck("chat_message", { streamId, message: `  ${text} \n\t` });
  assert.equal(ack.ok, true, `chat ack: ${JSON.stringify(ack)}`);

  const [gotA, gotB] = await Promise.all([waitFor(a, "new_message"), waitFor(b, "new_message")]);
  for (const msg of [gotA, gotB]) {
    assert.equal(msg.message, text);
    assert.equal(typeof msg.id, "string");
    assert.ok(msg.id.length > 0);
    assert.equal(msg.userId, String(viewerA.id));
    assert.equal(msg.username, viewerA.username);
    assert.equal(msg.streamId, streamId);
    assert.match(msg.timestamp, ISO_Z);
    assert.equal(new Date(msg.timestamp).toISOString(), msg.timestamp);
    assert.ok(Math.abs(Date.now() - Date.parse(msg.timestamp)) < 60_000, `timestamp ${msg.timestamp} is not now`);
  }
  assert.deepEqual(gotB, gotA, "the room gets one broadcast");
  assert.equal(ack.id, gotA.id, "the ack carries the broadcast message");

  // Someone joining later finds the message in the recent history.
  const late = client(streamer.token);
  await connected(late);
  const { history: lateHistory } = await joinRoom(late, streamId);
  assert.deepEqual(lateHistory.messages.at(-1), gotA);
  const threeViewers = (d) => d.streamId === streamId && d.count === 3;
  await Promise.all([a, b, late].map((s) => waitFor(s, "viewer_count_updated", threeViewers)));

  assert.equal(indexOf(a, "message_error"), -1, describeInbox(a));
  assert.equal(indexOf(a, "room_join_error"), -1, describeInbox(a));
  await onFinalTransport(a);

  // A Buffer is sent as a binary packet with an attachment (base64 over long-polling).
  const binary = await a
    .timeout(WAIT_MS)
    .emitWithAck("chat_message", { streamId, message: Buffer.from([0, 255, 1]) });
  assert.deepEqual(binary, { ok: false, message: "Invalid message payload" });
  assert.equal(a.connected, true, "a binary payload keeps the socket");
});

/** The socket opened on the mode's first transport and (only by default) upgraded. */
async function onFinalTransport(socket) {
  const first = await waitFor(socket, "transport");
  assert.equal(first, MODE === "websocket" ? "websocket" : "polling", describeInbox(socket));
  if (MODE === "default") {
    assert.equal(await waitFor(socket, "upgrade"), "websocket", describeInbox(socket));
  } else {
    assert.equal(indexOf(socket, "upgrade"), -1, `no upgrade in mode ${MODE}: ${describeInbox(socket)}`);
  }
  assert.equal(socket.io.engine.transport.name, FINAL_TRANSPORT);
}

async function endedByServer({ stream, via, reason, message }) {
  const { viewerA, viewerB } = FIXTURE.users;
  const a = client(viewerA.token);
  const b = client(viewerB.token);
  await Promise.all([connected(a), connected(b)]);
  await joinRoom(a, stream.id);
  await joinRoom(b, stream.id);
  const twoViewers = (d) => d.streamId === stream.id && d.count === 2;
  await Promise.all([waitFor(a, "viewer_count_updated", twoViewers), waitFor(b, "viewer_count_updated", twoViewers)]);

  await endStream(stream, via, reason);

  for (const socket of [a, b]) {
    const note = await waitFor(socket, "stream_ended_notification", () => true, 10_000);
    assert.deepEqual(note, { roomId: stream.id, message });
    const why = await waitFor(socket, "disconnect", () => true, 10_000);
    assert.equal(why, "io server disconnect", describeInbox(socket));
    assert.ok(
      indexOf(socket, "stream_ended_notification") < indexOf(socket, "disconnect"),
      `notification must come before the disconnect: ${describeInbox(socket)}`,
    );
    assert.equal(socket.connected, false);
    assert.equal(socket.active, false, "a server disconnect must not be retried");
  }

  // The ended stream cannot be joined again.
  const again = client(viewerA.token);
  await connected(again);
  const ack = await again.timeout(WAIT_MS).emitWithAck("join_stream_room", { streamId: stream.id });
  assert.deepEqual(ack, { ok: false, message: "Stream is not live" });
  const error = await waitFor(again, "room_join_error");
  assert.deepEqual(error, { message: "Stream is not live" });
}

test("(c) ending the stream (REST) notifies the room, then the server disconnects it", { timeout: 60_000 }, () =>
  endedByServer({ stream: FIXTURE.streams.endRest, via: "rest", reason: "", message: "Stream has ended" }),
);

test("(d) ending the stream from another process (manage.py end_stream --reason)", { timeout: 60_000 }, () =>
  endedByServer({
    stream: FIXTURE.streams.endCommand,
    via: "command",
    reason: "Hết giờ rồi, hẹn gặp lại!",
    message: "Hết giờ rồi, hẹn gặp lại!",
  }),
);

test("(e) the streamer times out a viewer: the room is told and the viewer's chat is refused", { timeout: 30_000 }, async () => {
  const { viewerA, streamer } = FIXTURE.users;
  const streamId = FIXTURE.streams.moderation.id;
  const owner = client(streamer.token);
  const viewer = client(viewerA.token);
  await Promise.all([connected(owner), connected(viewer)]);
  await joinRoom(owner, streamId);
  await joinRoom(viewer, streamId);

  const ack = await owner
    .timeout(WAIT_MS)
    .emitWithAck("moderation_timeout_user", { streamId, userId: viewerA.id, seconds: 42, reason: "spam" });
  assert.equal(ack.ok, true, `timeout ack: ${JSON.stringify(ack)}`);
  assert.match(ack.until, ISO_Z);
  const told = await waitFor(viewer, "user_timed_out");
  assert.deepEqual(told, { streamId, userId: String(viewerA.id), until: ack.until });

  const refused = await viewer.timeout(WAIT_MS).emitWithAck("chat_message", { streamId, message: "hello?" });
  assert.equal(refused.ok, false);
  assert.match(refused.message, /^You are timed out for (42|41) more seconds$/);
  assert.deepEqual(await waitFor(viewer, "message_error"), { message: refused.message });

  const denied = await viewer.timeout(WAIT_MS).emitWithAck("moderation_clear_chat", { streamId });
  assert.deepEqual(denied, { ok: false, message: "You are not a moderator of this stream" });
  assert.deepEqual(await waitFor(viewer, "moderation_error"), { message: denied.message });
});
