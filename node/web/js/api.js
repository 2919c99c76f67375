// The daemon's JSON API as the app uses it: same-origin requests with the session cookie (sent
// by the browser, never readable here) and the session's CSRF token on every change.

let csrf = null;

/** An API failure: HTTP status, stable code, message for people. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the API; resolves to the parsed body (or null), rejects with ApiError. */
export async function api(method, path, body) {
  const headers = {};
  if (method !== 'GET') headers['X-Handbill-CSRF'] = csrf ?? '';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'offline', 'The node does not answer. Is handbilld still running?');
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const e = data?.error;
    throw new ApiError(response.status, e?.code ?? 'http_' + response.status, e?.message ?? text);
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const put = (path, body) => api('PUT', path, body ?? {});
export const del = (path, body) => api('DELETE', path, body);

/** Reads this browser's session (and keeps its CSRF token for later changes). */
export async function startSession() {
  const session = await get('/v1/session');
  csrf = session.csrf;
  return session;
}

/** Publishes an event (`kind` and its fields, as POST /v1/events takes them). */
export const publish = (request) => post('/v1/events', request);

/** Query-string helper that drops empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

/**
 * Opens the live event stream; `handlers` maps event names (`stored`, `notification`) to
 * callbacks; `onState(open)` reports the connection. EventSource reconnects by itself.
 */
export function openStream(handlers, onState) {
  const source = new EventSource('/v1/stream');
  source.onopen = () => onState(true);
  source.onerror = () => onState(false);
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (e) => {
      try {
        handler(JSON.parse(e.data));
      } catch (err) {
        console.error('stream event', name, err);
      }
    });
  }
  return source;
}
