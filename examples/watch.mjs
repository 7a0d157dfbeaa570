// A viewer with the official socket.io client: connects with a JWT, joins a
// live stream, chats, prints counts, and exits when the server disconnects it.
//
//   node examples/watch.mjs <access-token> <stream-id> [message]
import { io } from "socket.io-client";

const [token, streamId, text = "hello from node"] = process.argv.slice(2);
if (!token || !streamId) {
  console.error("usage: node examples/watch.mjs <access-token> <stream-id> [message]");
  process.exit(2);
}
const url = process.env.LIVESTREAM_URL ?? "http://127.0.0.1:8000";
const socket = io(url, { transports: ["websocket"], auth: { token } });

socket.on("connect", () => {
  console.log("connected as", socket.id);
  socket.emit("join_stream_room", { streamId }, (ack) => {
    console.log("join ack", ack);
    if (ack.ok) socket.emit("chat_message", { streamId, message: text });
  });
});
socket.on("connect_error", (err) => {
  console.error("connect_error:", err.message);
  process.exit(1);
});
for (const event of [
  "room_joined_successfully", "recent_chat_history", "viewer_count_updated",
  "new_message", "room_join_error", "message_error", "stream_ended_notification",
]) {
  socket.on(event, (payload) => console.log(event, JSON.stringify(payload)));
}
socket.on("disconnect", (reason) => {
  console.log("disconnected:", reason);
  process.exit(0);
});
