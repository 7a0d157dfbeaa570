// The live streams and their viewer counts, refreshed every few seconds from the REST API.
import { api } from "../auth.js";
import { $, el, renderAccount, showError } from "../ui.js";

const REFRESH_MS = 5_000;

function item(stream) {
  const count = el("span", { class: "count", text: `${stream.viewer_count} watching` });
  return el(
    "li",
    { class: "card", "data-stream": stream.id },
    el("a", { href: `/watch/${stream.id}/`, text: stream.title }),
    el("span", { class: "hint", text: ` by ${stream.streamer.username} · ` }),
    count,
  );
}

async function refresh() {
  const list = $("#streams");
  try {
    const page = await api("/api/streams/?status=live");
    list.replaceChildren(...page.results.map(item));
    $("#empty").hidden = page.results.length > 0;
    showError($("#errors"), null);
  } catch (error) {
    showError($("#errors"), error.message);
  } finally {
    list.setAttribute("aria-busy", "false");
  }
}

renderAccount();
refresh();
setInterval(refresh, REFRESH_MS);
