// The HLS player (the vendored hls.js, global `Hls`), or a placeholder when there is no video.
import { el } from "./ui.js";

let hls = null;

export function showPlayer(container, url) {
  hls?.destroy();
  hls = null;
  if (!url) return placeholder(container, "No video for this stream: chat is live.");
  const video = el("video", { controls: true, muted: true, autoplay: true, playsInline: true });
  video.setAttribute("aria-label", "Live video");
  container.replaceChildren(video);
  if (window.Hls?.isSupported()) {
    hls = new window.Hls({ liveDurationInfinity: true });
    hls.on(window.Hls.Events.ERROR, (_event, data) => {
      if (data.fatal) placeholder(container, "The video cannot be played right now: chat is live.");
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = url;
  } else {
    placeholder(container, "This browser cannot play the video: chat is live.");
  }
}

export function placeholder(container, text) {
  hls?.destroy();
  hls = null;
  container.replaceChildren(el("p", { class: "placeholder", text }));
}
