// The streamer's page: create a stream, see its RTMP URL and key, start it, chat, end it.
import * as auth from "../auth.js";
import { LiveRoom } from "../room.js";
import { $, config, el, loginLink, renderAccount, showError } from "../ui.js";

const { rtmpUrl } = config();
let selected = null;
let room = null;

function error(message) {
  showError($("#studio-errors"), message);
}

async function mine() {
  const me = auth.userId();
  const pages = await Promise.all(
    ["live", "idle"].map((status) => auth.api(`/api/streams/?status=${status}`)),
  );
  return pages.flatMap((page) => page.results).filter((stream) => stream.streamer.id === me);
}

async function renderList() {
  const streams = await mine();
  const items = streams.map((stream) => {
    const button = el("button", { type: "button", class: "link", text: `${stream.title} (${stream.status})` });
    button.addEventListener("click", () => select(stream));
    return el("li", {}, button);
  });
  $("#my-streams").replaceChildren(...(items.length ? items : [el("li", { class: "hint", text: "None yet." })]));
}

function select(stream) {
  selected = stream;
  room?.stop();
  room = null;
  $("#panel").hidden = false;
  $("#panel-title").textContent = stream.title;
  $("#rtmp-url").textContent = rtmpUrl;
  hideKey();
  $("#watch-link").href = `/watch/${stream.id}/`;
  status(stream.status);
  if (stream.status === "live") joinRoom();
}

function status(value) {
  selected.status = value;
  $("#panel-status").textContent = value;
  $("#start").disabled = value !== "idle";
  $("#end").disabled = value === "ended";
}

function hideKey() {
  const key = $("#stream-key");
  key.textContent = "••••••••";
  key.dataset.hidden = "true";
  $("#show-key").setAttribute("aria-pressed", "false");
  $("#show-key").textContent = "Show key";
}

function toggleKey() {
  const key = $("#stream-key");
  if (key.dataset.hidden === "false") return hideKey();
  key.textContent = selected.stream_key ?? "(only the streamer sees the key)";
  key.dataset.hidden = "false";
  $("#show-key").setAttribute("aria-pressed", "true");
  $("#show-key").textContent = "Hide key";
}

function joinRoom() {
  room = new LiveRoom($("#panel"), selected.id, { onEnded: () => status("ended") });
  room.start();
}

async function act(action) {
  error(null);
  try {
    return await action();
  } catch (failure) {
    error(failure.message);
    return null;
  }
}

function main() {
  renderAccount();
  if (!auth.current()) return loginLink();
  $("#studio").hidden = false;
  $("#create-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act(async () => {
      const title = $("#create-title").value;
      select(await auth.api("/api/streams/", { method: "POST", body: { title } }));
      $("#create-title").value = "";
      await renderList();
    });
  });
  $("#show-key").addEventListener("click", toggleKey);
  $("#start").addEventListener("click", () =>
    act(async () => {
      const stream = await auth.api(`/api/streams/${selected.id}/start/`, { method: "POST" });
      status(stream.status);
      joinRoom();
      await renderList();
    }),
  );
  $("#end").addEventListener("click", () =>
    act(async () => {
      const reason = $("#end-reason").value;
      const stream = await auth.api(`/api/streams/${selected.id}/end/`, { method: "POST", body: { reason } });
      status(stream.status);
      await renderList();
    }),
  );
  act(renderList);
}

main();
