// The daemon's JSON API as the app uses it: same-origin requests with the session cookie (sent
// by the browser, never readable here) and the session key, which sign-in hands over in the
// URL's fragment and which lives in this origin's storage, out of reach of pages on any other
// port. Every request carries the key, the event stream included (so it is read with fetch:
// EventSource cannot send headers).

const KEY = 'handbill-session-key';

/** Takes a key handed over by sign-in (`#key=…`) into storage and out of the address bar. */
export function adoptKey() {
  const match = /^#key=([0-9a-f]+)$/.exec(location.hash);
  if (match) {
    localStorage.setItem(KEY, match[1]);
    history.replaceState(null, '', '/#/');
  }
  return localStorage.getItem(KEY) !== null;
}

/** Forgets the key (signing out). */
export function forgetKey() {
  localStorage.removeItem(KEY);
}

function keyHeaders() {
  return { 'X-Handbill-Key': localStorage.getItem(KEY) ?? '' };
}

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
  const headers = keyHeaders();
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

/** Reads this browser's session: its id and whose node this is. */
export const startSession = () => get('/v1/session');

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
 * callbacks; `onState(open)` reports the connection. Reconnects with backoff until the session
 * is refused (then `onRefused(error)`).
 */
export function openStream(handlers, onState, onRefused) {
  let delay = 1000;
  const dispatch = (block) => {
    let name = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) name = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (!data.length || !handlers[name]) return;
    try {
      handlers[name](JSON.parse(data.join('\n')));
    } catch (err) {
      console.error('stream event', name, err);
    }
  };
  const connect = async () => {
    try {
      const response = await fetch('/v1/stream', { headers: keyHeaders(), cache: 'no-store' });
      if (response.status === 401 || response.status === 403) {
        const body = await response.json().catch(() => null);
        onState(false);
        onRefused?.(new ApiError(response.status, body?.error?.code ?? 'unauthorized', body?.error?.message ?? ''));
        return;
      }
      if (!response.ok || !response.body) throw new Error(`stream: HTTP ${response.status}`);
      onState(true);
      delay = 1000;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n/g, '\n');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (err) {
      console.warn('stream', err);
    }
    onState(false);
    setTimeout(connect, delay);
    // The node is on this machine: a restart should be noticed within seconds.
    delay = Math.min(delay * 2, 5_000);
  };
  connect();
}
