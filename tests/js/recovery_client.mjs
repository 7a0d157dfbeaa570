// The official JS client (socket.io-client 4.8) through a connection the test can cut:
// run by tests/js/test_recovery.py, which reads what this prints, one JSON line each:
//   {"connect": {sid, recovered}}     every (re)connection
//   {"disconnect": reason}
//   {"connect_error": message}
//   {"event": name, "args": [...]}    new_message, notification, viewer_count_updated
// Environment: LIVESTREAM_URL, LIVESTREAM_TOKEN, LIVESTREAM_STREAM, LIVESTREAM_TRANSPORTS
// (comma list, optional: the client's defaults otherwise). Nothing but `auth` is set
// beyond the transports: recovery needs no client option. Exits when stdin closes.

import { io } from "socket.io-client";

const say = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const transports = process.env.LIVESTREAM_TRANSPORTS?.split(",");
const socket = io(process.env.LIVESTREAM_URL, {
  ...(transports ? { transports } : {}),
  auth: { token: process.env.LIVESTREAM_TOKEN },
});

let joined = false;
socket.on("connect", async () => {
  say({ connect: { sid: socket.id, recovered: socket.recovered } });
  if (joined) return; // a recovered session is still in its rooms
  joined = true;
  const streamId = process.env.LIVESTREAM_STREAM;
  const room = await socket.timeout(5000).emitWithAck("join_stream_room", { streamId });
  const notes = await socket.timeout(5000).emitWithAck("join_notification_room");
  say({ joined: room.ok && notes.ok });
});
socket.on("disconnect", (reason) => say({ disconnect: reason }));
socket.on("connect_error", (error) => say({ connect_error: error.message }));
for (const name of ["new_message", "notification", "viewer_count_updated"]) {
  socket.on(name, (...args) => say({ event: name, args }));
}
process.stdin.on("end", () => {
  socket.disconnect();
  process.exit(0);
});
process.stdin.resume();
