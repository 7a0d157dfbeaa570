// Tokens from /api/auth/: kept in this tab's sessionStorage (gone when the tab closes, never
// in a cookie), the access token refreshed a minute before it expires. Refresh tokens
// rotate: each refresh stores the new one (the old one is blacklisted by the server).

const KEY = "livestream.auth";
// Refresh a minute before expiry, or a quarter of the lifetime for short-lived tokens.
const REFRESH_MARGIN_MS = 60_000;
let timer = null;

export class ApiError extends Error {
  constructor(status, body) {
    super(wording(body) || `The server answered ${status}`);
    this.status = status;
    this.body = body;
  }
}

// The server's own words: DRF's {detail} or {field: [messages]}.
function wording(body) {
  if (!body || typeof body !== "object") return "";
  if (typeof body.detail === "string") return body.detail;
  return Object.entries(body)
    .map(([field, value]) => {
      const text = Array.isArray(value) ? value.join(" ") : String(value);
      return field === "non_field_errors" ? text : `${field}: ${text}`;
    })
    .join(" ");
}

function load() {
  try {
    const state = JSON.parse(sessionStorage.getItem(KEY));
    claims(state.access); // a token that cannot be read counts as none
    return state;
  } catch {
    return null;
  }
}

function save(state) {
  if (state) sessionStorage.setItem(KEY, JSON.stringify(state));
  else sessionStorage.removeItem(KEY);
  schedule();
}

function claims(token) {
  const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(part));
}

export function current() {
  return load();
}

export function accessToken() {
  return load()?.access ?? null;
}

export function userId() {
  const state = load();
  return state ? String(claims(state.access).user_id) : null;
}

async function request(path, { method = "GET", body, token } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text.slice(0, 200) };
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// A call to the REST API as the signed-in user (anonymous when nobody is).
export async function api(path, options = {}) {
  try {
    return await request(path, { ...options, token: accessToken() });
  } catch (error) {
    if (error.status === 401 && load() && (await refresh())) {
      return request(path, { ...options, token: accessToken() });
    }
    throw error;
  }
}

export async function login(username, password) {
  const tokens = await request("/api/auth/token/", { method: "POST", body: { username, password } });
  save({ ...tokens, username });
}

export async function register(username, password) {
  await request("/api/auth/register/", { method: "POST", body: { username, password } });
  await login(username, password);
}

export async function logout() {
  const state = load();
  save(null);
  if (state) {
    await request("/api/auth/logout/", { method: "POST", body: { refresh: state.refresh } }).catch(
      () => {},
    );
  }
}

// A new access (and refresh) token; false, and signed out, when the server refuses.
export async function refresh() {
  const state = load();
  if (!state) return false;
  try {
    const tokens = await request("/api/auth/token/refresh/", {
      method: "POST",
      body: { refresh: state.refresh },
    });
    save({ ...state, ...tokens });
    return true;
  } catch (error) {
    if (error.status === 401 || error.status === 400) save(null);
    return false;
  }
}

function schedule() {
  clearTimeout(timer);
  const state = load();
  if (!state) return;
  const { exp, iat } = claims(state.access);
  const margin = Math.min(REFRESH_MARGIN_MS, ((exp - iat) * 1000) / 4);
  const due = exp * 1000 - Date.now() - margin;
  timer = setTimeout(refresh, Math.max(due, 0));
}

schedule();
