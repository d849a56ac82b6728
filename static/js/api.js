// Calls to the HTTP API (SPEC §3) with the browser session: the CSRF token on unsafe
// methods, JSON in and out, and errors as ApiError carrying the server's error object.

const TIMEOUT_MS = 30000;

export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = error?.code ?? "error";
    this.detail = error ?? {}; // the whole error object: field, missing, unexpected, …
  }
}

export function csrfToken() {
  // "__Host-csrftoken" in production (HTTPS), "csrftoken" in the embedded mode.
  const cookie = document.cookie
    .split("; ")
    .find((part) => part.startsWith("__Host-csrftoken=") || part.startsWith("csrftoken="));
  return cookie ? decodeURIComponent(cookie.slice(cookie.indexOf("=") + 1)) : "";
}

export function apiUrl(path) {
  return `/api/v1${path}`;
}

// JSON request: `body` is sent as JSON when given. Resolves to the parsed answer (null
// for an empty one), rejects with ApiError for any status that is not 2xx.
export async function api(method, path, body = undefined) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!["GET", "HEAD"].includes(method)) headers["X-CSRFToken"] = csrfToken();
  const response = await fetch(apiUrl(path), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  return parse(response.status, await response.text());
}

export function parse(status, text) {
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (status < 200 || status >= 300) throw new ApiError(status, data?.error);
  return data;
}

// Standard base64 with padding (SPEC §3), in slices so large inputs do not overflow
// the argument list of String.fromCharCode.
export function toBase64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

export function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// What the page expects and shows the user (the network, the server's refusals, a bad
// file, a page left mid-request) is logged as a warning; anything else is a bug in the
// page and logged as an error.
export function logProblem(what, error) {
  const bug =
    error instanceof ReferenceError || error instanceof SyntaxError ||
    (error instanceof TypeError && !/fetch|network/i.test(error.message));
  (bug ? console.error : console.warn)(`exchange: ${what}`, error);
}
