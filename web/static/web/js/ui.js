// Small DOM helpers. Text always goes in as text (textContent), never as HTML.
import * as auth from "./auth.js";

export const $ = (selector, root = document) => root.querySelector(selector);

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else if (name in node && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

export function config() {
  return JSON.parse($("#page-config").textContent);
}

// Show the server's wording in an alert region; null hides it.
export function showError(region, message) {
  region.textContent = message ?? "";
  region.hidden = !message;
}

export function notify(text) {
  const box = $("#notifications");
  const item = el("p", { class: "toast", text });
  box.append(item);
  setTimeout(() => item.remove(), 15_000);
}

export function time(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// The header: who is signed in, and a way out.
export function renderAccount() {
  const box = $("#account");
  const state = auth.current();
  if (!state) {
    const next = encodeURIComponent(location.pathname);
    box.replaceChildren(el("a", { href: `/login/?next=${next}`, text: "Log in" }));
    return;
  }
  const button = el("button", { type: "button", class: "link", text: "Log out" });
  button.addEventListener("click", async () => {
    await auth.logout();
    location.assign("/");
  });
  box.replaceChildren(el("span", { text: `Signed in as ${state.username}` }), " ", button);
}

export function loginLink() {
  const link = $("#login-link");
  link.href = `/login/?next=${encodeURIComponent(location.pathname)}`;
  $("#login-needed").hidden = false;
}
