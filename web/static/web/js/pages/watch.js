// One stream: the player, the live room, and what happens when it ends.
import { api, current } from "../auth.js";
import { showPlayer, placeholder } from "../player.js";
import { LiveRoom } from "../room.js";
import { $, config, loginLink, renderAccount, showError } from "../ui.js";

const { streamId } = config();

async function main() {
  renderAccount();
  let stream;
  try {
    stream = await api(`/api/streams/${streamId}/`);
  } catch (error) {
    $("#title").textContent = "Stream unavailable";
    return showError($("#errors"), error.message);
  }
  $("#title").textContent = stream.title;
  document.title = `${stream.title} · Livestream`;
  $("#streamer").textContent = `by ${stream.streamer.username}`;
  if (stream.status !== "live") {
    placeholder($("#player"), "Nothing to play.");
    const banner = $("#banner");
    banner.textContent = stream.status === "ended" ? "This stream has ended." : "This stream has not started yet.";
    banner.hidden = false;
    return;
  }
  if (!current()) {
    placeholder($("#player"), "Log in to watch.");
    return loginLink();
  }
  const room = new LiveRoom(document, streamId, {
    onJoined: ({ playbackUrl }) => showPlayer($("#player"), playbackUrl),
    onEnded: () => placeholder($("#player"), "The stream has ended."),
  });
  room.start();
}

main();
