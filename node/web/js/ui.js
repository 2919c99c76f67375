// Small DOM and formatting helpers shared by every screen.

/** Builds an element: h('a', {href: '#/'}, 'text', child, …). `on*` attributes add listeners. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces the contents of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** The short form of an id that the CLI also shows and accepts (8 characters after `1`). */
export function short(id) {
  if (!id) return '';
  const at = id.indexOf('1');
  return at >= 0 ? id.slice(at + 1, at + 9) : id.slice(0, 8);
}

/** "alice (nyjpm3v4)" or just the short id: a name alone proves nothing, so both show. */
export function authorLabel(id, name) {
  return name ? [h('span', { class: 'name' }, name), ' ', h('span', { class: 'mono' }, short(id))]
    : [h('span', { class: 'name mono' }, short(id))];
}

const units = [['y', 31536e6], ['mo', 2592e6], ['d', 864e5], ['h', 36e5], ['min', 6e4], ['s', 1e3]];

/** "5 min ago", with the full date as a tooltip by `timeEl`. */
export function relTime(ms, now = Date.now()) {
  const d = Math.max(0, now - ms);
  if (d < 5000) return 'just now';
  for (const [u, size] of units) {
    if (d >= size) return `${Math.floor(d / size)} ${u} ago`;
  }
  return 'just now';
}

/**
 * A <time> element that keeps its relative text fresh (see `refreshTimes`). The local date in
 * its tooltip is made when first pointed at: the first `toLocaleString` loads the browser's
 * locale data, which costs more than rendering a whole page of posts.
 */
export function timeEl(ms) {
  const el = h('time', { datetime: new Date(ms).toISOString(), dataset: { ms } }, relTime(ms));
  const title = () => { if (!el.title) el.title = new Date(ms).toLocaleString(); };
  el.addEventListener('pointerenter', title);
  el.addEventListener('focusin', title);
  return el;
}

/** Updates every relative time on the page. */
export function refreshTimes() {
  for (const t of document.querySelectorAll('time[data-ms]')) t.textContent = relTime(Number(t.dataset.ms));
}

/** What to do next for each kind of failure. */
function nextStep(err) {
  switch (err.code) {
    case 'unauthorized':
      return 'Your browser session has ended. Run `handbill open` in a terminal to sign in again.';
    case 'offline':
      return 'Start the node again in a terminal (`handbilld`, with the same `--home` if you use one); this page reconnects by itself.';
    case 'session_key':
    case 'forbidden_origin':
      return 'Reload the app and try again.';
    case 'disk_full':
      return 'Free disk space, then restart handbilld.';
    case 'ambiguous':
      return 'Give more characters of the id.';
    default:
      return '';
  }
}

/** Text with `commands` in backticks as code elements. */
function withCode(text) {
  return text.split('`').map((part, i) => (i % 2 ? h('code', {}, part) : part));
}

/** Shows an error at the top of the page with the next step; returns its element. */
export function showError(err, context) {
  const box = document.getElementById('errors');
  const message = err?.message || String(err);
  const step = nextStep(err ?? {});
  const el = h('div', { class: 'error' },
    h('p', {}, context ? `${context}: ` : '', message, step ? h('br') : null, withCode(step)),
    h('button', { class: 'link', type: 'button', 'aria-label': 'Dismiss', onclick: () => el.remove() }, '×'));
  box.append(el);
  if (box.children.length > 3) box.firstElementChild.remove();
  return el;
}

/** Removes every error shown. */
export function clearErrors() {
  document.getElementById('errors').replaceChildren();
}

/** Runs `action` with `button` disabled, showing failures; resolves to the result or undefined. */
export async function busy(button, context, action) {
  if (button) button.disabled = true;
  try {
    return await action();
  } catch (err) {
    showError(err, context);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** A labelled input; `id` ties the label to the control. */
export function field(id, label, input) {
  input.id = id;
  return h('div', { class: 'stack' }, h('label', { for: id }, label), input);
}

/** Splits "a, b c" into ['a', 'b', 'c'], without leading '#'. */
export function words(text) {
  return (text || '').split(/[\s,]+/).map((w) => w.replace(/^#/, '').trim()).filter(Boolean);
}

/** Sets the page title and the heading that screen readers land on. */
export function heading(title) {
  document.title = `${title} · Handbill`;
  return h('h1', {}, title);
}
