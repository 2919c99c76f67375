// The web app's modules (node/web/js/) in one file, made by 'npm run build --prefix node/web': edit those, then rebuild. CI checks that this file is up to date.

// js/api.js
var KEY = "handbill-session-key";
function adoptKey() {
  const match = /^#key=([0-9a-f]+)$/.exec(location.hash);
  if (match) {
    localStorage.setItem(KEY, match[1]);
    history.replaceState(null, "", "/#/");
  }
  return localStorage.getItem(KEY) !== null;
}
function forgetKey() {
  localStorage.removeItem(KEY);
}
function keyHeaders() {
  return { "X-Handbill-Key": localStorage.getItem(KEY) ?? "" };
}
var ApiError = class extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
};
async function api(method, path, body) {
  const headers = keyHeaders();
  if (body !== void 0) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === void 0 ? void 0 : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store"
    });
  } catch {
    throw new ApiError(0, "offline", "The node does not answer. Is handbilld still running?");
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
    throw new ApiError(response.status, e?.code ?? "http_" + response.status, e?.message ?? text);
  }
  return data;
}
var get = (path) => api("GET", path);
var post = (path, body) => api("POST", path, body ?? {});
var put = (path, body) => api("PUT", path, body ?? {});
var del = (path, body) => api("DELETE", path, body);
var startSession = () => get("/v1/session");
var publish = (request) => post("/v1/events", request);
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== void 0 && v !== null && v !== "") q.set(k, v);
  }
  const s = q.toString();
  return s ? "?" + s : "";
}
function openStream(handlers, onState, onRefused) {
  let delay = 1e3;
  const dispatch = (block) => {
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) name = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (!data.length || !handlers[name]) return;
    try {
      handlers[name](JSON.parse(data.join("\n")));
    } catch (err) {
      console.error("stream event", name, err);
    }
  };
  const connect = async () => {
    try {
      const response = await fetch("/v1/stream", { headers: keyHeaders(), cache: "no-store" });
      if (response.status === 401 || response.status === 403) {
        const body = await response.json().catch(() => null);
        onState(false);
        onRefused?.(new ApiError(response.status, body?.error?.code ?? "unauthorized", body?.error?.message ?? ""));
        return;
      }
      if (!response.ok || !response.body) throw new Error(`stream: HTTP ${response.status}`);
      onState(true);
      delay = 1e3;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (; ; ) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (err) {
      console.warn("stream", err);
    }
    onState(false);
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, 5e3);
  };
  connect();
}

// js/ui.js
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === void 0 || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}
function append(el, children) {
  for (const c of children) {
    if (c === void 0 || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}
function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}
function short(id) {
  if (!id) return "";
  const at = id.indexOf("1");
  return at >= 0 ? id.slice(at + 1, at + 9) : id.slice(0, 8);
}
function authorLabel(id, name) {
  return name ? [h("span", { class: "name" }, name), " ", h("span", { class: "mono" }, short(id))] : [h("span", { class: "name mono" }, short(id))];
}
var units = [["y", 31536e6], ["mo", 2592e6], ["d", 864e5], ["h", 36e5], ["min", 6e4], ["s", 1e3]];
function relTime(ms, now = Date.now()) {
  const d = Math.max(0, now - ms);
  if (d < 5e3) return "just now";
  for (const [u, size] of units) {
    if (d >= size) return `${Math.floor(d / size)} ${u} ago`;
  }
  return "just now";
}
function timeEl(ms) {
  const el = h("time", { datetime: new Date(ms).toISOString(), dataset: { ms } }, relTime(ms));
  const title = () => {
    if (!el.title) el.title = new Date(ms).toLocaleString();
  };
  el.addEventListener("pointerenter", title);
  el.addEventListener("focusin", title);
  return el;
}
function refreshTimes() {
  for (const t of document.querySelectorAll("time[data-ms]")) t.textContent = relTime(Number(t.dataset.ms));
}
function nextStep(err) {
  switch (err.code) {
    case "unauthorized":
      return "Your browser session has ended. Run `handbill open` in a terminal to sign in again.";
    case "offline":
      return "Start the node again in a terminal (`handbilld`, with the same `--home` if you use one); this page reconnects by itself.";
    case "session_key":
    case "forbidden_origin":
      return "Reload the app and try again.";
    case "disk_full":
      return "Free disk space, then restart handbilld.";
    case "ambiguous":
      return "Give more characters of the id.";
    default:
      return "";
  }
}
function withCode(text) {
  return text.split("`").map((part, i) => i % 2 ? h("code", {}, part) : part);
}
function showError(err, context) {
  const box = document.getElementById("errors");
  const message = err?.message || String(err);
  const step = nextStep(err ?? {});
  const el = h(
    "div",
    { class: "error" },
    h("p", {}, context ? `${context}: ` : "", message, step ? h("br") : null, withCode(step)),
    h("button", { class: "link", type: "button", "aria-label": "Dismiss", onclick: () => el.remove() }, "×")
  );
  box.append(el);
  if (box.children.length > 3) box.firstElementChild.remove();
  return el;
}
function clearErrors() {
  document.getElementById("errors").replaceChildren();
}
async function busy(button, context, action) {
  if (button) button.disabled = true;
  try {
    return await action();
  } catch (err) {
    showError(err, context);
    return void 0;
  } finally {
    if (button) button.disabled = false;
  }
}
function field(id, label, input) {
  input.id = id;
  return h("div", { class: "stack" }, h("label", { for: id }, label), input);
}
function words(text) {
  return (text || "").split(/[\s,]+/).map((w) => w.replace(/^#/, "").trim()).filter(Boolean);
}
function heading(title) {
  document.title = `${title} · Handbill`;
  return h("h1", {}, title);
}

// js/compose.js
var counter = 0;
var titles = {
  post: ["New post", "Post"],
  reply: ["Your reply", "Reply"],
  quote: ["Your comment on the quoted post", "Quote"],
  edit: ["New text", "Save edit"]
};
function composer({ mode = "post", target = null, onDone }) {
  const n = ++counter;
  const [label, action] = titles[mode];
  const text = h("textarea", { id: `text-${n}`, name: "text", required: true, maxlength: 5e3 });
  if (mode === "edit") text.value = target.text ?? "";
  const tags = h("input", { id: `tags-${n}`, type: "text", name: "tags", placeholder: "news, rust" });
  const warning = h("input", { id: `cw-${n}`, type: "text", name: "warning", placeholder: "spoiler" });
  const submit = h("button", { class: "primary", type: "submit" }, action);
  const extra = mode === "edit" ? [] : [
    h(
      "details",
      {},
      h("summary", {}, "Tags and content warning"),
      h(
        "div",
        { class: "stack" },
        h("label", { for: tags.id }, "Tags (without #, separated by commas)"),
        tags,
        h("label", { for: warning.id }, "Content warning (readers see it before the text)"),
        warning
      )
    )
  ];
  const form = h(
    "form",
    { class: "compose stack", "aria-label": label },
    target && mode !== "edit" ? h(
      "p",
      { class: "context" },
      mode === "reply" ? "Replying to " : "Quoting ",
      target.author_name ?? short(target.author),
      " · ",
      short(target.id)
    ) : null,
    h("label", { for: text.id }, label),
    text,
    extra,
    h(
      "div",
      { class: "row" },
      submit,
      h("span", { class: "hint" }, mode === "edit" ? "Readers see the new text, marked edited; the history stays." : "#tag becomes a tag; @name mentions someone your node knows by that name (or by id). Ctrl+Enter posts.")
    )
  );
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit();
  });
  const problem = h("p", { class: "inline-error", role: "alert", hidden: true });
  text.after(problem);
  const say = (message) => {
    problem.textContent = message;
    problem.hidden = !message;
  };
  text.addEventListener("input", () => say(""));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!text.value.trim()) {
      say("Write something first: the text is empty.");
      text.focus();
      return;
    }
    say("");
    busy(submit, `${action} failed`, async () => {
      const request = mode === "edit" ? { kind: "edit", target: target.id, text: text.value } : {
        kind: "post",
        text: text.value,
        reply_to: mode === "reply" ? target.id : null,
        quote: mode === "quote" ? target.id : null,
        tags: words(tags.value),
        self_labels: words(warning.value)
      };
      let published;
      try {
        published = await publish(request);
      } catch (err) {
        if (err.status !== 400) throw err;
        say(err.message);
        text.focus();
        return;
      }
      form.reset();
      onDone?.(published);
    });
  });
  return form;
}

// js/items.js
var viewer = null;
var viewerReady = Promise.resolve(null);
function setViewer(author2) {
  viewerReady = author2.then((a) => {
    viewer = a;
    return a;
  });
  viewerReady.catch(() => {
  });
  return viewerReady;
}
function whenViewer() {
  return viewerReady;
}
function viewerId() {
  return viewer;
}
function reasonText(r) {
  const feed = r.feed_name ? `“${r.feed_name}”` : short(r.feed);
  switch (r.type) {
    case "label":
      return `label “${r.value}” from feed ${feed} on this ${r.scope === "author" ? "author" : "post"}` + (r.reason ? ` (${r.reason})` : "");
    case "self_label":
      return `the author marked it “${r.value}”`;
    case "muted_author":
      return "you muted this author";
    case "muted_word":
      return `you muted the word “${r.word}”`;
    case "muted_tag":
      return `you muted #${r.tag}`;
    case "list":
      return `the author is on the list “${r.name}”`;
    case "followed_override":
      return "softened because you follow the author";
    default:
      return r.type;
  }
}
function reasonList(verdict) {
  return h("ul", { class: "reasons" }, verdict.reasons.map((r) => h("li", {}, `${reasonText(r)}: ${r.action}`)));
}
function renderItem(item, options = {}) {
  const article = h("article", {
    class: "item" + (options.focus ? " focus" : "") + (options.reply ? " reply" : ""),
    dataset: { id: item.id, author: item.author, action: item.moderation.action },
    "aria-label": `${item.kind} by ${item.author_name ?? short(item.author)}`
  });
  shown.set(article, [item, options, performance.now()]);
  const verdict = item.moderation;
  const cover = covers[verdict.action];
  if (!cover) {
    article.append(meta(item, true), h("div", { class: "body" }, content(item, options)));
    return article;
  }
  const hideAgain = () => article.replaceWith(renderItem(item, options));
  const reveal = h("button", {
    type: "button",
    onclick: () => replace(
      box,
      reasonList(verdict),
      content(item, options),
      h("button", { type: "button", class: "link", onclick: hideAgain }, cover.again)
    )
  }, cover.button);
  const box = h(
    "div",
    { class: cover.class },
    h("strong", {}, cover.title),
    verdict.reasons.map(reasonText).join("; "),
    " ",
    reveal
  );
  article.append(meta(item, false), box);
  return article;
}
var shown = /* @__PURE__ */ new WeakMap();
var stale = /* @__PURE__ */ new Set();
var recheck = null;
var RECHECK_MAX = 50;
var RECHECK_PAUSE_MS = 1e3;
function eventStored(event) {
  const selectors = [];
  if (event.kind === "label") {
    if (event.target) selectors.push(`article.item[data-id="${CSS.escape(event.target)}"]`);
    else if (event.labelled_author) selectors.push(`article.item[data-author="${CSS.escape(event.labelled_author)}"]`);
  } else {
    for (const id of [event.reply_to, event.target]) {
      if (id) selectors.push(`article.item[data-id="${CSS.escape(id)}"]`);
    }
  }
  for (const selector of selectors) {
    for (const el of document.querySelectorAll(selector)) {
      if (stale.size < RECHECK_MAX) stale.add(el.dataset.id);
    }
  }
  if (stale.size && !recheck) recheck = setTimeout(redrawStale, 300);
}
var visible = (item) => JSON.stringify([item.moderation, item.counts, item.mine, item.text, item.edited]);
var inUse = (el) => el.contains(document.activeElement) || el.querySelector('.slot[data-mode]:not([data-mode=""]), .reasons, ol.history') !== null;
var typing = (el) => [...el.querySelectorAll("textarea")].some((t) => t.value.trim());
async function redrawStale() {
  const ids = [...stale];
  stale.clear();
  try {
    await Promise.all(ids.map(redrawOne));
  } finally {
    recheck = setTimeout(() => {
      recheck = null;
      if (stale.size) recheck = setTimeout(redrawStale, 0);
    }, RECHECK_PAUSE_MS);
  }
}
async function redrawOne(id) {
  const asked = performance.now();
  let fresh;
  try {
    fresh = await get(`/v1/events/${encodeURIComponent(id)}`);
  } catch {
    return;
  }
  for (const el of document.querySelectorAll(`article.item[data-id="${CSS.escape(id)}"]`)) {
    const [old, options, drawn] = shown.get(el) ?? [];
    if (!old || drawn > asked || visible(old) === visible(fresh) || typing(el)) continue;
    if (inUse(el) && old.moderation.action === fresh.moderation.action) continue;
    const item = options.nested ? { ...fresh, quoted: null } : fresh;
    const redrawn = renderItem(item, options);
    redrawn.style.cssText = el.style.cssText;
    el.replaceWith(redrawn);
  }
}
var covers = {
  hide: { class: "collapsed", title: "Hidden by your moderation: ", button: "Show anyway", again: "Hide again" },
  warn: { class: "warning", title: "Warning: ", button: "Show", again: "Cover again" }
};
function meta(item, uncovered) {
  const verb = item.kind === "repost" ? h("span", {}, "reposted") : item.reply_to ? h("span", {}, "replied to ", h("a", { href: `#/thread/${item.reply_to}` }, `post ${short(item.reply_to)}`)) : item.kind === "reaction" && item.target ? h("span", {}, "reacted to ", h("a", { href: `#/thread/${item.target}` }, `post ${short(item.target)}`)) : null;
  return h(
    "div",
    { class: "meta" },
    h("a", { href: `#/author/${item.author}`, class: "name-link" }, authorLabel(item.author, item.author_name)),
    verb,
    h("a", { href: `#/thread/${item.id}`, title: "Open the thread" }, timeEl(item.created_at)),
    item.edited && uncovered ? editedButton(item) : null
  );
}
function editedButton(item) {
  const button = h("button", { type: "button", class: "link", "aria-expanded": "false", title: "Show earlier versions" }, "(edited)");
  let box = null;
  button.addEventListener("click", () => busy(button, "Reading the edit history", async () => {
    if (box) {
      box.remove();
      box = null;
      button.setAttribute("aria-expanded", "false");
      return;
    }
    const history2 = await get(`/v1/events/${encodeURIComponent(item.id)}/history`);
    box = h("ol", { class: "history", "aria-label": "Versions, oldest first" }, history2.versions.map((v) => h(
      "li",
      { class: v.current ? "current" : "" },
      timeEl(v.created_at),
      ": ",
      v.text === null ? h("span", { class: "muted" }, "erased by a delete") : h("span", { class: "text" }, v.text),
      v.current ? h("span", { class: "muted" }, " (shown)") : null
    )));
    button.closest(".meta").after(box);
    button.setAttribute("aria-expanded", "true");
  }));
  return button;
}
function content(item, options) {
  const parts = [];
  if (item.deleted) {
    parts.push(h("p", { class: "muted" }, item.author === viewer ? "You deleted this." : "Deleted by its author (or not fetched yet)."));
    return parts;
  }
  if (item.kind === "post" || item.kind === "reaction") {
    if (item.text) parts.push(h("div", { class: "text" }, item.text));
  } else if (item.kind !== "repost") {
    parts.push(h("p", { class: "muted" }, `A ${item.kind} event.`));
  }
  if (item.tags?.length) {
    parts.push(h("div", { class: "tags" }, item.tags.map((t) => [h("a", { href: `#/search?q=${encodeURIComponent("#" + t)}` }, "#" + t), " "])));
  }
  if (item.quoted) {
    parts.push(h("div", { class: "quoted" }, renderItem(item.quoted, { nested: true })));
  } else if (item.target && item.kind !== "reaction" && options.nested) {
    parts.push(h("p", { class: "muted" }, "Quoting ", h("a", { href: `#/thread/${item.target}` }, `post ${short(item.target)}`), "."));
  } else if (item.target && item.kind !== "reaction") {
    parts.push(h(
      "p",
      { class: "muted" },
      "The ",
      h("a", { href: `#/thread/${item.target}` }, `quoted post ${short(item.target)}`),
      " is not stored on this node."
    ));
  }
  if (!options.nested && item.kind === "post") parts.push(actions(item, options));
  if (!options.nested && item.kind === "repost" && item.author === viewer) {
    parts.push(h("div", { class: "actions" }, undoButton("Undo repost", "Undoing the repost", [item.id], () => options.onChange?.())));
  }
  return parts;
}
function undoButton(label, context, events, done, attrs = {}) {
  return h("button", {
    type: "button",
    ...attrs,
    onclick: (e) => busy(e.currentTarget, context, async () => {
      await publish({ kind: "delete", targets: events });
      done();
    })
  }, label);
}
function actions(item, options) {
  const own = item.author === viewer;
  const changed = () => options.onChange?.();
  const slot = h("div", { class: "slot" });
  const c = item.counts ?? {};
  const open = (mode) => {
    if (slot.dataset.mode === mode) {
      slot.dataset.mode = "";
      slot.replaceChildren();
      return;
    }
    slot.dataset.mode = mode;
    replace(slot, composer({ mode, target: item, onDone: () => {
      slot.replaceChildren();
      slot.dataset.mode = "";
      changed();
    } }));
    slot.querySelector("textarea")?.focus();
  };
  const react = (emoji) => (e) => busy(e.currentTarget, "Reacting", async () => {
    await publish({ kind: "reaction", target: item.id, reaction: emoji });
    changed();
  });
  const mine = item.mine ?? { reactions: [], reposts: [] };
  const count = (n) => n ? " · " + n : "";
  return [
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", onclick: () => open("reply") }, `Reply${c.replies ? " · " + c.replies : ""}`),
      h("button", { type: "button", onclick: () => open("quote") }, `Quote${c.quotes ? " · " + c.quotes : ""}`),
      mine.reposts.length ? undoButton(
        `Repost${count(c.reposts)}`,
        "Undoing the repost",
        mine.reposts,
        changed,
        { "aria-pressed": "true", title: "You reposted this: press to undo" }
      ) : h("button", {
        type: "button",
        "aria-pressed": "false",
        onclick: (e) => busy(e.currentTarget, "Reposting", async () => {
          await publish({ kind: "repost", target: item.id });
          changed();
        })
      }, `Repost${count(c.reposts)}`),
      mine.reactions.length ? undoButton(
        `♥ Like${count(c.reactions)}`,
        "Taking back your reaction",
        mine.reactions,
        changed,
        { "aria-pressed": "true", title: "You reacted to this: press to take your reactions back" }
      ) : h("button", { type: "button", "aria-pressed": "false", title: "React with a heart", onclick: react("❤️") }, `♥ Like${count(c.reactions)}`),
      own ? h("button", { type: "button", onclick: () => open("edit") }, "Edit") : null,
      own ? h("button", {
        type: "button",
        onclick: (e) => {
          if (!confirm("Delete this post? Nodes that hold it erase its text.")) return;
          busy(e.currentTarget, "Deleting", async () => {
            await publish({ kind: "delete", targets: [item.id] });
            changed();
          });
        }
      }, "Delete") : null
    ),
    slot
  ];
}

// js/feeds.js
var PAGE = 50;
function pagedList(fetchPage, options) {
  const list = h("div", { class: "items", role: "feed", "aria-busy": "false" });
  const more = h("button", { type: "button", class: "more" }, "Load older");
  let next = null;
  const seen = /* @__PURE__ */ new Set();
  const load = async (before) => {
    list.setAttribute("aria-busy", "true");
    const page = await fetchPage(before);
    await whenViewer();
    for (const item of page.items) {
      if (seen.has(item.id)) continue;
      seen.add(item.id);
      list.append(renderItem(item, options));
    }
    next = page.next ?? null;
    more.hidden = !next;
    list.setAttribute("aria-busy", "false");
    return page;
  };
  more.addEventListener("click", () => busy(more, "Loading older items", () => load(next)));
  const prepend = (item) => {
    if (seen.has(item.id)) return;
    seen.add(item.id);
    const el = renderItem(item, options);
    el.classList.add("new");
    list.prepend(el);
  };
  return { list, more, load, prepend, seen };
}
function followForm(onFollowed, id = "follow-author") {
  const input = h("input", { type: "text", name: "author", placeholder: "hbauthor1… or @name", autocomplete: "off" });
  const button = h("button", { type: "submit", class: "primary" }, "Follow");
  const form = h(
    "form",
    { class: "stack", "aria-label": "Follow someone" },
    field(id, "Follow someone by their author id", input),
    h("div", { class: "row" }, button)
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(button, "Following", async () => {
      const { id: id2 } = await get("/v1/resolve" + query({ kind: "author", id: input.value.trim() }));
      await post("/v1/follows", { author: id2 });
      input.value = "";
      onFollowed?.(id2);
    });
  });
  return form;
}
var timelinePage = (before) => get("/v1/timeline" + query({ limit: PAGE, before }));
function prefetchTimeline() {
  const page = timelinePage();
  page.catch(() => {
  });
  return page;
}
async function timeline(main2, _arg, app2) {
  const reload = () => app2.refresh();
  const paged = pagedList((before) => {
    if (before !== void 0) return timelinePage(before);
    const first = app2.early ?? timelinePage();
    app2.early = null;
    return first.then((page2) => {
      performance.mark("timeline-data");
      return page2;
    });
  }, { onChange: reload });
  const loading = paged.load();
  const empty = h(
    "div",
    { class: "empty", hidden: true },
    h("p", {}, h("strong", {}, "Your timeline is empty."), " It shows your posts and the posts of people you follow."),
    h(
      "p",
      {},
      "To follow someone, ask them for their author id (they find it with ",
      h("code", {}, "handbill id"),
      " or on their Node page) and paste it below. Your node fetches their posts from any peer that holds them; if it has no peers yet, connect to one on the ",
      h("a", { href: "#/node" }, "Node page"),
      "."
    ),
    followForm(() => reload())
  );
  const followMore = h(
    "details",
    { class: "follow-more", hidden: true },
    h("summary", {}, "Follow someone"),
    followForm(() => reload(), "follow-more")
  );
  replace(
    main2,
    heading("Timeline"),
    composer({ mode: "post", onDone: () => {
    } }),
    followMore,
    empty,
    paged.list,
    paged.more
  );
  const page = await loading;
  empty.hidden = page.items.length > 0;
  followMore.hidden = !empty.hidden;
  performance.mark("timeline-ready");
  document.body.dataset.ready = "timeline";
  return {
    stored(item) {
      if (!item.in_timeline || item.kind !== "post" && item.kind !== "repost") return;
      empty.hidden = true;
      followMore.hidden = false;
      paged.prepend(item);
    }
  };
}
async function listFeed(main2, arg) {
  const at = arg.indexOf("/");
  const path = `/v1/authors/${encodeURIComponent(arg.slice(0, at))}/lists/${encodeURIComponent(arg.slice(at + 1))}`;
  const list = await get(path);
  const paged = pagedList((before) => get(path + "/timeline" + query({ limit: PAGE, before })), {});
  replace(
    main2,
    heading(`List: ${list.name}`),
    h(
      "p",
      { class: "hint" },
      list.description ? `${list.description} · ` : "",
      `${list.members.length} members, by `,
      h("a", { href: `#/author/${list.owner}` }, short(list.owner)),
      "."
    ),
    paged.list,
    paged.more
  );
  const page = await paged.load();
  if (!page.items.length) main2.append(h("p", { class: "empty" }, "No post of its members is held on this node yet."));
  return {
    stored(item) {
      if (list.members.some((m) => m.author === item.author) && (item.kind === "post" || item.kind === "repost")) paged.prepend(item);
    }
  };
}
async function thread(main2, id) {
  const render = async () => {
    const t = await get(`/v1/events/${encodeURIComponent(id)}/thread`);
    const depth = /* @__PURE__ */ new Map([[t.event.id, 0]]);
    const onChange = () => render().catch((e) => showError(e, "Reloading the thread"));
    const items = [
      ...t.ancestors.map((i) => renderItem(i, { onChange })),
      renderItem(t.event, { focus: true, onChange }),
      ...t.replies.map((i) => {
        const d = (depth.get(i.reply_to) ?? 0) + 1;
        depth.set(i.id, d);
        const el = renderItem(i, { reply: true, onChange });
        el.style.marginLeft = `${Math.min(d, 6) * 16}px`;
        if (known.size && !known.has(i.id)) el.classList.add("new");
        return el;
      })
    ];
    known = /* @__PURE__ */ new Set([t.event.id, ...t.ancestors.map((i) => i.id), ...t.replies.map((i) => i.id)]);
    root = t.event.root ?? t.event.id;
    replace(
      main2,
      heading("Thread"),
      items,
      t.replies.length ? null : h("p", { class: "muted" }, "No replies held yet.")
    );
  };
  let known = /* @__PURE__ */ new Set();
  let root = id;
  await render();
  let waiting = null;
  return {
    stored(item) {
      if (!(known.has(item.reply_to) || item.root === root || known.has(item.target) || known.has(item.id))) return;
      const writing = [...main2.querySelectorAll("form.compose textarea")].some((t) => t.value.trim());
      if (!writing) {
        render().catch((e) => showError(e, "Updating the thread"));
      } else if (!waiting?.isConnected) {
        waiting = h(
          "button",
          { type: "button", class: "more", onclick: () => render().catch((e) => showError(e, "Updating the thread")) },
          "New activity in this thread: show it"
        );
        main2.querySelector("h1").after(waiting);
      }
    }
  };
}
async function author(main2, id, app2) {
  const [view, moderation2] = await Promise.all([
    get(`/v1/authors/${encodeURIComponent(id)}` + query({ limit: PAGE })),
    get("/v1/moderation")
  ]);
  const again = () => app2.refresh();
  const own = view.author === viewerId();
  const muted = moderation2.muted_authors.includes(view.author);
  const follow = h("button", {
    type: "button",
    class: view.followed ? "" : "primary",
    onclick: (e) => busy(e.currentTarget, view.followed ? "Unfollowing" : "Following", async () => {
      if (view.followed) await del(`/v1/follows/${view.author}`);
      else await post("/v1/follows", { author: view.author });
      await again();
    })
  }, view.followed ? "Unfollow" : "Follow");
  const mute = h("button", {
    type: "button",
    onclick: (e) => busy(e.currentTarget, muted ? "Unmuting" : "Muting", async () => {
      if (muted) await del("/v1/mutes", { author: view.author });
      else await post("/v1/mutes", { author: view.author });
      await again();
    })
  }, muted ? "Unmute" : "Mute");
  const profile = h(
    "section",
    { class: "profile", "aria-label": "Profile" },
    h("h2", {}, authorLabel(view.author, view.name ?? (own ? "you" : null))),
    view.bio ? h("p", {}, view.bio) : null,
    h("p", { class: "mono" }, view.author),
    h("p", { class: "hint" }, view.contiguous === view.highest ? `This node holds all ${view.highest} events of this author's log.` : `This node holds ${view.contiguous} of this author's ${view.highest} events in order${view.followed || own ? "; it fetches the rest from peers." : " (following them fetches all of it)."}`),
    own ? profileForm(view, again) : h(
      "div",
      { class: "row" },
      follow,
      mute,
      muted ? h("span", { class: "hint" }, "Muted: their posts are hidden from you (nobody else is affected).") : null
    )
  );
  const list = h("div", { class: "items" }, view.posts.map((i) => renderItem(i, { onChange: again })));
  replace(
    main2,
    heading(view.name ?? short(view.author)),
    profile,
    h("h2", {}, "Posts"),
    list,
    view.posts.length ? null : h("p", { class: "muted" }, own ? "You have not posted yet." : "No posts held yet. Following fetches them from peers that hold them.")
  );
  return {
    stored(item) {
      if (item.author === view.author && (item.kind === "post" || item.kind === "repost")) {
        const el = renderItem(item, { onChange: again });
        el.classList.add("new");
        list.prepend(el);
      }
    }
  };
}
function profileForm(view, done) {
  const name = h("input", { type: "text", value: view.name ?? "", maxlength: 64 });
  const bio = h("textarea", {}, view.bio ?? "");
  const save = h("button", { type: "submit", class: "primary" }, "Save profile");
  const form = h(
    "form",
    { class: "stack", "aria-label": "Your profile" },
    field("profile-name", "Display name", name),
    field("profile-bio", "Bio", bio),
    h("div", {}, save),
    h("p", { class: "hint" }, "Others see your name next to your short id; a name alone proves nothing.")
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(save, "Saving the profile", async () => {
      await publish({ kind: "profile", name: name.value.trim(), bio: bio.value });
      await done();
    });
  });
  return form;
}
var verbs = {
  reply: "replied to you",
  mention: "mentioned you",
  quote: "quoted you",
  repost: "reposted your post",
  reaction: "reacted to your post",
  follow: "followed you",
  unfollow: "unfollowed you",
  label: "labelled your post"
};
function notificationEl(n) {
  const i = n.item;
  return h(
    "div",
    { class: "notification" + (n.unread ? " unread" : ""), dataset: { reason: n.reason, id: i.id } },
    h(
      "p",
      { class: "meta" },
      h("a", { href: `#/author/${i.author}` }, authorLabel(i.author, i.author_name)),
      " ",
      verbs[n.reason] ?? n.reason,
      i.kind === "reaction" && i.text ? ` ${i.text}` : "",
      " · ",
      timeEl(i.created_at),
      n.unread ? h("span", { class: "badge" }, "new") : null
    ),
    i.kind === "post" || i.kind === "repost" || i.kind === "reaction" ? renderItem(i, {}) : null
  );
}
async function notifications(main2, _arg, app2) {
  const list = h("div", { class: "items", role: "feed" });
  const more = h("button", { type: "button", class: "more", hidden: true }, "Load older");
  const seen = /* @__PURE__ */ new Set();
  const fresh = (n) => !seen.has(n.position) && seen.add(n.position);
  let next = null;
  const load = async (before) => {
    const page2 = await get("/v1/notifications" + query({ all: true, limit: PAGE, before }));
    list.append(...page2.items.filter(fresh).map(notificationEl));
    next = page2.next ?? null;
    more.hidden = next === null;
    return page2;
  };
  more.addEventListener("click", () => busy(more, "Loading older notifications", () => load(next)));
  const markRead = h("button", {
    type: "button",
    onclick: (e) => busy(e.currentTarget, "Marking read", async () => {
      await post("/v1/notifications/read", {});
      for (const el of list.querySelectorAll(".unread")) el.classList.remove("unread");
      for (const el of list.querySelectorAll(".badge")) el.remove();
      app2.setUnread(0);
    })
  }, "Mark all read");
  const empty = h(
    "p",
    { class: "empty", hidden: true },
    "Nothing yet. When someone replies to you, mentions, quotes, reposts or follows you, it shows here."
  );
  replace(main2, heading("Notifications"), h("div", { class: "row" }, markRead), empty, list, more);
  const page = await load();
  empty.hidden = page.items.length > 0;
  app2.setUnread(page.unread);
  return {
    notification(n) {
      if (!fresh(n)) return;
      empty.hidden = true;
      const el = notificationEl(n);
      el.classList.add("new");
      list.prepend(el);
    }
  };
}
async function search(main2, _arg, _app, params) {
  const q = params.get("q") ?? "";
  const input = h("input", { type: "search", name: "q", value: q, placeholder: "words, #tag, from:@name" });
  const form = h(
    "form",
    { class: "stack", role: "search" },
    field("search-q", "Search the posts your node holds", input),
    h(
      "div",
      { class: "row" },
      h("button", { type: "submit", class: "primary" }, "Search"),
      h("span", { class: "hint" }, "Words match whole words; #tag finds tags; from:@name or from:hbauthor1… limits to one author.")
    )
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = "#/search?q=" + encodeURIComponent(input.value.trim());
  });
  replace(main2, heading("Search"), form);
  if (!q) return {};
  const paged = pagedList((before) => get("/v1/search" + query({ q, limit: PAGE, before })), {});
  main2.append(paged.list, paged.more);
  const page = await paged.load();
  if (!page.items.length) main2.append(h("p", { class: "empty" }, `No post held on this node matches “${q}”.`));
  return {};
}

// js/moderation.js
var actions2 = ["show", "warn", "hide"];
async function resolveAuthor(text) {
  return (await get("/v1/resolve" + query({ kind: "author", id: text.trim() }))).id;
}
function feedCard(feedId, subscription, again) {
  const declaration = subscription.declaration;
  const overrides = { ...subscription.overrides };
  const save = (select, value) => busy(select, "Changing the label action", async () => {
    if (select.value === "") delete overrides[value];
    else overrides[value] = select.value;
    await post("/v1/moderation/feeds", { feed: feedId, overrides });
  });
  const labels = declaration ? h(
    "table",
    {},
    h("thead", {}, h("tr", {}, h("th", {}, "Label"), h("th", {}, "Severity"), h("th", {}, "What you see"))),
    h("tbody", {}, declaration.labels.map((l) => {
      const id = `act-${short(feedId)}-${l.value}`;
      const select = h(
        "select",
        { id, "aria-label": `Action for label ${l.value}` },
        h("option", { value: "" }, `feed default (${l.default_action})`),
        actions2.map((a) => h("option", { value: a, selected: overrides[l.value] === a }, a))
      );
      select.addEventListener("change", () => save(select, l.value));
      return h(
        "tr",
        { dataset: { label: l.value } },
        h("td", {}, h("label", { for: id }, l.value), l.description ? h("div", { class: "hint" }, l.description) : null),
        h("td", {}, l.severity),
        h("td", {}, select)
      );
    }))
  ) : h(
    "p",
    { class: "notice" },
    "Your node has not fetched this feed’s declaration yet. It asks peers that hold the feed; ",
    "the labels appear here when one answers (connect to the feed’s node on the Node page if none does)."
  );
  const card = h(
    "section",
    { class: "profile", dataset: { feed: feedId } },
    h("h2", {}, declaration?.name ?? "Moderation feed", " ", h("span", { class: "mono muted" }, short(feedId))),
    declaration?.description ? h("p", {}, declaration.description) : null,
    labels,
    declaration ? issuedLabels(feedId) : null,
    h(
      "div",
      { class: "row" },
      h("a", { href: `#/author/${feedId}` }, "The feed’s author page"),
      h("button", {
        type: "button",
        onclick: (e) => busy(e.currentTarget, "Unsubscribing", async () => {
          await del(`/v1/moderation/feeds/${feedId}`);
          await again();
        })
      }, "Unsubscribe")
    )
  );
  if (!declaration) {
    const poll = setInterval(async () => {
      if (!card.isConnected) return clearInterval(poll);
      try {
        const found = await get(`/v1/feeds/${feedId}`);
        clearInterval(poll);
        card.replaceWith(feedCard(feedId, { ...subscription, declaration: found }, again));
      } catch {
      }
    }, 2e3);
  }
  return card;
}
function issuedLabels(feedId) {
  const list = h("ul", { class: "issued" });
  const box = h("details", {}, h("summary", {}, "What this feed has labelled"), list);
  box.addEventListener("toggle", () => {
    if (!box.open || list.dataset.read) return;
    list.dataset.read = "yes";
    busy(null, "Reading the feed’s labels", async () => {
      let issued;
      try {
        issued = await get(`/v1/feeds/${feedId}/labels` + query({ limit: 50 }));
      } catch (err) {
        delete list.dataset.read;
        throw err;
      }
      replace(list, issued.length ? issued.map((l) => h(
        "li",
        {},
        h("strong", {}, l.value),
        " on ",
        l.target.startsWith("hbauthor") ? h("a", { href: `#/author/${l.target}` }, `author ${short(l.target)}`) : h("a", { href: `#/thread/${l.target}` }, `post ${short(l.target)}`),
        l.reason ? ` (${l.reason})` : "",
        l.expires_at ? " until " + new Date(l.expires_at).toLocaleString() : ""
      )) : h("li", { class: "hint" }, "No label of this feed is held here yet."));
    });
  });
  return box;
}
function chips(values, label, remove) {
  if (!values.length) return h("p", { class: "hint" }, "None.");
  return h("ul", { class: "chips" }, values.map((v) => h(
    "li",
    {},
    label(v),
    " ",
    h("button", { type: "button", class: "link", "aria-label": `Remove ${typeof v === "string" ? v : ""}`, onclick: (e) => remove(v, e.currentTarget) }, "×")
  )));
}
function muteForm(kind, placeholder, again) {
  const input = h("input", { type: "text", placeholder });
  const button = h("button", { type: "submit" }, `Mute ${kind}`);
  const form = h(
    "form",
    { class: "row", "aria-label": `Mute a ${kind}` },
    h("label", { for: `mute-${kind}` }, `Mute a ${kind}`),
    input,
    button
  );
  input.id = `mute-${kind}`;
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!input.value.trim()) return;
    busy(button, `Muting the ${kind}`, async () => {
      await post("/v1/mutes", { [kind]: input.value.trim() });
      await again();
    });
  });
  return form;
}
async function moderation(main2) {
  const again = () => moderation(main2);
  const [prefs, ownLists] = await Promise.all([get("/v1/moderation"), get("/v1/lists")]);
  const feedInput = h("input", { type: "text", placeholder: "hbauthor1… of a moderation feed", autocomplete: "off" });
  const subscribe = h("button", { type: "submit", class: "primary" }, "Subscribe");
  const feedForm = h(
    "form",
    { class: "stack", "aria-label": "Subscribe to a moderation feed" },
    field("feed-author", "Subscribe to a moderation feed (its author id)", feedInput),
    h("div", {}, subscribe),
    h("p", { class: "hint" }, "A feed labels posts and authors; you choose per label whether to show, warn or hide. It changes only what you see.")
  );
  feedForm.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(subscribe, "Subscribing", async () => {
      await post("/v1/moderation/feeds", { feed: await resolveAuthor(feedInput.value), overrides: {} });
      await again();
    });
  });
  const followed = h("input", { type: "checkbox", id: "always-followed", checked: prefs.always_show_followed });
  followed.addEventListener("change", () => busy(followed, "Changing the option", () => put("/v1/moderation/options", { always_show_followed: followed.checked })));
  const removeMute = (field2) => (v, button) => busy(button, "Unmuting", async () => {
    await del("/v1/mutes", { [field2]: v });
    await again();
  });
  const feeds = Object.entries(prefs.feeds);
  const lists = Object.values(prefs.lists);
  replace(
    main2,
    heading("Moderation"),
    h(
      "p",
      { class: "hint" },
      "Moderation here acts on what you see, never on what the network carries. ",
      "What this node refuses to store is the ",
      h("a", { href: "#/host-policy" }, "host policy"),
      "."
    ),
    h("h2", {}, "Moderation feeds"),
    feeds.length ? feeds.map(([id, sub]) => feedCard(id, sub, again)) : h("p", { class: "hint" }, "You use no moderation feed yet."),
    feedForm,
    h("h2", {}, "People you follow"),
    h(
      "div",
      { class: "row" },
      followed,
      h("label", { for: "always-followed" }, "Always show people I follow (feed and list hides become warnings for them)")
    ),
    h("h2", {}, "Mutes"),
    h("p", { class: "hint" }, "Muted authors, words and tags are hidden from you; your mutes are never softened."),
    h("h3", {}, "Authors"),
    chips([...prefs.muted_authors], (a) => h("a", { href: `#/author/${a}`, class: "mono" }, short(a)), removeMute("author")),
    h("h3", {}, "Words"),
    chips([...prefs.muted_words], (w) => w, removeMute("word")),
    muteForm("word", "a word or phrase", again),
    h("h3", {}, "Tags"),
    chips([...prefs.muted_tags], (t) => "#" + t, removeMute("tag")),
    muteForm("tag", "tag", again),
    h("h2", {}, "Lists"),
    lists.length ? h("ul", {}, lists.map((l) => h(
      "li",
      {},
      `${l.name} (${l.purpose}) by `,
      h("a", { href: `#/author/${l.owner}`, class: "mono" }, short(l.owner)),
      `, ${l.members.length} members `,
      h("button", {
        type: "button",
        onclick: (e) => busy(e.currentTarget, "Unsubscribing from the list", async () => {
          await del("/v1/lists/subscriptions", { owner: l.owner, list: l.id });
          await again();
        })
      }, "Unsubscribe")
    ))) : h("p", { class: "hint" }, "You use nobody’s list."),
    listForm(again),
    h("h3", {}, "Your lists"),
    ownLists.length ? ownLists.map((l) => ownListCard(l, lists, again)) : h("p", { class: "hint" }, "You have no lists."),
    newListForm(again)
  );
}
var purposes = {
  mute: "mute: whoever uses it hides the members’ posts",
  block: "block: whoever uses it hides the members’ posts and interactions",
  curate: "curate: a reading list, a timeline of its members only"
};
async function publishList(list, members) {
  await publish({ kind: "list", name: list.name, description: list.description ?? "", purpose: list.purpose, members });
}
async function currentMembers(list) {
  return (await get("/v1/lists")).find((l) => l.id === list.id)?.members ?? list.members;
}
function ownListCard(list, subscribed, again) {
  const used = subscribed.some((s) => s.id === list.id);
  const member = h("input", { type: "text", placeholder: "hbauthor1… or @name", autocomplete: "off" });
  const add = h("button", { type: "submit" }, "Add");
  const id = `list-add-${short(list.id)}`;
  const addForm = h(
    "form",
    { class: "row", "aria-label": `Add someone to ${list.name}` },
    h("label", { for: id }, "Add someone"),
    member,
    add
  );
  member.id = id;
  addForm.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!member.value.trim()) return;
    busy(add, "Adding to the list", async () => {
      const author2 = await resolveAuthor(member.value);
      const members = await currentMembers(list);
      if (!members.includes(author2)) await publishList(list, [...members, author2]);
      await again();
    });
  });
  return h(
    "section",
    { class: "profile", dataset: { list: list.name } },
    h("h4", {}, list.name, " ", h("span", { class: "muted" }, `(${list.purpose})`)),
    list.description ? h("p", {}, list.description) : null,
    chips(
      list.members,
      (a) => h("a", { href: `#/author/${a}`, class: "mono" }, short(a)),
      (a, button) => busy(button, "Removing from the list", async () => {
        await publishList(list, (await currentMembers(list)).filter((m) => m !== a));
        await again();
      })
    ),
    addForm,
    h(
      "div",
      { class: "row" },
      list.purpose === "curate" ? h("a", { href: `#/list/${list.owner}/${encodeURIComponent(list.name)}` }, "Read this list") : used ? h("span", { class: "hint" }, "You use this list: its members are hidden from you.") : h("button", {
        type: "button",
        onclick: (e) => busy(e.currentTarget, "Using the list", async () => {
          await post("/v1/lists/subscriptions", { owner: list.owner, list: list.id });
          await again();
        })
      }, "Use it myself")
    )
  );
}
function newListForm(again) {
  const name = h("input", { type: "text", maxlength: 64, required: true, placeholder: "e.g. friends" });
  const purpose = h("select", {}, Object.entries(purposes).map(([value, text]) => h("option", { value }, text)));
  const description = h("input", { type: "text", placeholder: "what it is for (optional)" });
  const create = h("button", { type: "submit" }, "Create the list");
  const form = h(
    "form",
    { class: "stack", "aria-label": "Create a list" },
    field("list-name", "New list: its name", name),
    field("list-purpose", "What it does", purpose),
    field("list-description", "Description", description),
    h("div", {}, create),
    h("p", { class: "hint" }, "Lists are public: others can use your mute and block lists, or read your curated ones.")
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(create, "Creating the list", async () => {
      const list = { name: name.value.trim(), description: description.value.trim(), purpose: purpose.value };
      if ((await get("/v1/lists")).some((l) => l.name === list.name)) {
        throw new Error(`You already have a list named “${list.name}”: change it above, or pick another name.`);
      }
      await publishList(list, []);
      if (list.purpose !== "curate") {
        const mine = (await get("/v1/lists")).find((l) => l.name === list.name);
        if (mine) await post("/v1/lists/subscriptions", { owner: mine.owner, list: mine.id });
      }
      await again();
    });
  });
  return form;
}
function listForm(again) {
  const owner = h("input", { type: "text", placeholder: "hbauthor1… or @name" });
  const find = h("button", { type: "submit" }, "Show their lists");
  const found = h("div", {});
  const form = h(
    "form",
    { class: "stack", "aria-label": "Use someone’s list" },
    field("list-owner", "Use someone’s list: mute, block or curate by it", owner),
    h("div", {}, find),
    found
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(find, "Finding lists", async () => {
      const id = await resolveAuthor(owner.value);
      const lists = await get(`/v1/authors/${id}/lists`);
      replace(found, lists.length ? h("ul", {}, lists.map((l) => h(
        "li",
        {},
        `${l.name} (${l.purpose}), ${l.members.length} members `,
        h("button", {
          type: "button",
          onclick: (ev) => busy(ev.currentTarget, "Subscribing to the list", async () => {
            await post("/v1/lists/subscriptions", { owner: id, list: l.id });
            await again();
          })
        }, "Use this list")
      ))) : h("p", { class: "hint" }, "Your node holds no list of this author."));
    });
  });
  return form;
}
async function hostPolicy(main2) {
  const again = () => hostPolicy(main2);
  const policy = await get("/v1/host-policy");
  const feed = h("input", { type: "text", placeholder: "hbauthor1… of the feed" });
  const label = h("input", { type: "text", placeholder: "label, e.g. spam" });
  const refuse = h("button", { type: "submit" }, "Refuse");
  const refuseForm = h(
    "form",
    { class: "stack", "aria-label": "Refuse a label" },
    field("refuse-feed", "Feed", feed),
    field("refuse-label", "Label", label),
    h("div", {}, refuse)
  );
  refuseForm.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(refuse, "Refusing the label", async () => {
      await post("/v1/host-policy/refuse", { feed: await resolveAuthor(feed.value), label: label.value.trim() });
      await again();
    });
  });
  const author2 = h("input", { type: "text", placeholder: "hbauthor1… or @name" });
  const block = h("button", { type: "submit" }, "Block");
  const blockForm = h(
    "form",
    { class: "row", "aria-label": "Block an author" },
    h("label", { for: "block-author" }, "Block an author"),
    author2,
    block
  );
  author2.id = "block-author";
  blockForm.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(block, "Blocking", async () => {
      await post("/v1/host-policy/block", { author: await resolveAuthor(author2.value) });
      await again();
    });
  });
  replace(
    main2,
    heading("Host policy"),
    h(
      "p",
      { class: "notice" },
      "This is the operator’s choice of what this node stores and relays for the network. ",
      "It does not change what others see elsewhere; your own reading is set under ",
      h("a", { href: "#/moderation" }, "Moderation"),
      "."
    ),
    h("h2", {}, "Refused labels"),
    chips(
      policy.refused_labels,
      ([f, l]) => [`“${l}” from `, h("span", { class: "mono" }, short(f))],
      ([f, l], button) => busy(button, "Removing", async () => {
        await del("/v1/host-policy/refuse", { feed: f, label: l });
        await again();
      })
    ),
    refuseForm,
    h("h2", {}, "Blocked authors"),
    chips(
      policy.blocked_authors,
      (a) => h("a", { href: `#/author/${a}`, class: "mono" }, short(a)),
      (a, button) => busy(button, "Unblocking", async () => {
        await del("/v1/host-policy/block", { author: a });
        await again();
      })
    ),
    blockForm
  );
}

// js/node.js
var kinds = {
  public: "reachable from the internet",
  relayed: "through a relay (works behind NAT)",
  unconfirmed: "not confirmed reachable",
  lan: "local network only",
  loopback: "this machine only"
};
var states = {
  public: "Reachable from the internet",
  behind_nat: "Behind NAT: others reach this node through relays",
  unknown: "Not known yet (the node asks peers to dial it back)"
};
function copyButton(text, what) {
  return h("button", {
    type: "button",
    "aria-label": `Copy ${what}`,
    onclick: async (e) => {
      const b = e.currentTarget;
      try {
        await navigator.clipboard.writeText(text);
        b.textContent = "Copied";
      } catch {
        b.textContent = "Select and copy it";
      }
      setTimeout(() => {
        b.textContent = "Copy";
      }, 2e3);
    }
  }, "Copy");
}
async function node(main2) {
  const again = () => node(main2);
  const [status, following] = await Promise.all([get("/v1/status"), get("/v1/following")]);
  const addr = h("input", { type: "text", placeholder: "/ip4/…/tcp/4701/p2p/12D3…", autocomplete: "off" });
  const connect = h("button", { type: "submit", class: "primary" }, "Connect");
  const connectForm = h(
    "form",
    { class: "stack", "aria-label": "Connect to a peer" },
    field("connect-addr", "Connect to a peer by its address", addr),
    h("div", {}, connect),
    h(
      "p",
      { class: "hint" },
      "Ask the other person for the first address on their Node page (or from ",
      h("code", {}, "handbill id"),
      ")."
    )
  );
  const dialling = h("p", { class: "hint", role: "status" });
  connectForm.append(dialling);
  connectForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const target = addr.value.trim();
    busy(connect, "Connecting", async () => {
      await post("/v1/connect", { addr: target });
      dialling.textContent = `Dialling ${target}…`;
      const peer = target.match(/\/p2p\/([^/]+)$/)?.[1];
      for (let i = 0; i < 10; i++) {
        await new Promise((r2) => setTimeout(r2, 1e3));
        if (!dialling.isConnected) return;
        const now = await get("/v1/status");
        if (!dialling.isConnected) return;
        if (peer ? now.peer_scores.some((p) => p.peer_id === peer) : now.peer_scores.length > status.peer_scores.length) {
          return again();
        }
      }
      dialling.textContent = peer ? "No connection after 10 s. Check the address and that the other node is running and reachable from here; the node keeps trying in the background." : "No new peer after 10 s. An address should end in /p2p/12D3…: copy the whole first address from the other node’s Node page.";
    });
  });
  const r = status.reachability;
  const best = status.addresses[0];
  replace(
    main2,
    heading("Your node"),
    h(
      "section",
      { class: "profile", "aria-label": "Identity" },
      h("h2", {}, "Your author id"),
      h("p", { class: "row" }, h("span", { class: "mono", id: "author-id" }, status.author), copyButton(status.author, "author id")),
      h("p", { class: "hint" }, "Give this to people who want to follow you. ", h("a", { href: `#/author/${status.author}` }, "Your profile and posts"), ".")
    ),
    h("h2", {}, "Addresses to share"),
    h(
      "p",
      {},
      states[r.state] ?? r.state,
      r.relays.length ? `, relayed through ${r.relays.length}` : "",
      r.relay_service ? "; this node relays for others behind NAT" : ""
    ),
    status.addresses.length ? h("table", {}, h("tbody", {}, status.addresses.map((a) => h(
      "tr",
      {},
      h("td", { class: "mono" }, a.addr),
      h("td", {}, kinds[a.kind] ?? a.kind),
      h("td", {}, copyButton(a.addr, "address"))
    )))) : h("p", { class: "hint" }, "No address yet."),
    best ? h("p", { class: "hint" }, "The first one is the best to share.") : null,
    connectForm,
    h("h2", {}, `Following (${following.length})`),
    following.length ? h("ul", { class: "chips" }, following.map((f) => h(
      "li",
      {},
      h("a", { href: `#/author/${f.author}` }, authorLabel(f.author, f.name)),
      " ",
      h("button", {
        type: "button",
        class: "link",
        "aria-label": `Unfollow ${f.name ?? short(f.author)}`,
        onclick: (e) => busy(e.currentTarget, "Unfollowing", async () => {
          await del(`/v1/follows/${f.author}`);
          await again();
        })
      }, "Unfollow")
    ))) : h("p", { class: "hint" }, "You follow nobody yet."),
    followForm(() => again(), "follow-node"),
    h("h2", {}, `Peers (${status.peer_scores.length})`),
    status.peer_scores.length ? h(
      "table",
      {},
      h("thead", {}, h("tr", {}, h("th", {}, "Peer"), h("th", {}, "Link"), h("th", {}, "Score"))),
      h("tbody", {}, status.peer_scores.map((p) => h(
        "tr",
        {},
        h("td", { class: "mono", title: p.address ?? "" }, p.peer_id.slice(-12)),
        h("td", {}, p.connection),
        h("td", {}, p.gossip_score === null ? "–" : p.gossip_score.toFixed(1))
      )))
    ) : h("p", { class: "notice" }, "No peers. Connect to someone’s address above, or start handbilld with --bootstrap ADDR."),
    h("h2", {}, "Stored"),
    h("p", {}, `${status.counts.events} events from ${status.counts.authors} authors; keeping and serving the logs of ${status.hosted_authors} ${status.hosted_authors === 1 ? "author" : "authors"} (yours, those you follow, your feeds and lists).`),
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, h("th", {}, "Hosted log"), h("th", {}, "Held in order"), h("th", {}, "Highest seen"))),
      h("tbody", {}, status.sync.map((s) => h(
        "tr",
        {},
        h("td", {}, h("a", { href: `#/author/${s.author}`, class: "mono" }, short(s.author))),
        h("td", {}, s.contiguous),
        h("td", {}, s.highest)
      )))
    ),
    status.forks.length ? [h("h2", {}, "Forked logs"), h(
      "p",
      { class: "notice" },
      "These authors signed two different events at the same position (a stolen key or a bug): ",
      status.forks.map((f) => `${short(f.author)} at ${f.seq}`).join(", ")
    )] : null,
    h("h2", {}, "This browser"),
    h(
      "p",
      { class: "row" },
      h("a", { href: "#/host-policy" }, "Host policy"),
      " · ",
      h("span", { class: "hint" }, `handbilld ${status.version}; checked ${relTime(Date.now())}`),
      h("button", {
        type: "button",
        onclick: (e) => busy(e.currentTarget, "Signing out", async () => {
          await del("/v1/session");
          forgetKey();
          location.replace("/");
        })
      }, "Sign out")
    )
  );
}

// js/main.js
var main = null;
var pageParsed = () => document.readyState === "loading" ? new Promise((resolve) => document.addEventListener("DOMContentLoaded", resolve, { once: true })) : Promise.resolve();
var routes = {
  "": ["timeline", timeline],
  thread: ["timeline", thread],
  author: ["timeline", author],
  list: ["timeline", listFeed],
  notifications: ["notifications", notifications],
  search: ["search", search],
  moderation: ["moderation", moderation],
  "host-policy": ["moderation", hostPolicy],
  node: ["node", node]
};
var screen = {};
var focusAfterRoute = null;
var navigation = 0;
var pending = null;
var unread = 0;
var app = {
  setUnread(n) {
    unread = Math.max(0, n);
    const badge = document.getElementById("unread");
    badge.textContent = String(unread);
    badge.hidden = unread === 0;
    badge.setAttribute("aria-label", `${unread} unread`);
  },
  refresh: () => route(),
  /** The timeline's first page, asked for at start-up; only the first screen may take it. */
  early: null
};
async function route() {
  const mine = ++navigation;
  if (mine > 1) app.early = null;
  const [path, search2] = location.hash.replace(/^#\/?/, "").split("?");
  const [name, ...rest] = path.split("/");
  const [nav, render] = Object.hasOwn(routes, name) ? routes[name] : routes[""];
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.nav === nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  clearErrors();
  delete document.body.dataset.ready;
  screen = {};
  pending = [];
  try {
    if (render !== timeline) await whenViewer();
    const handlers = await render(main, decodeURIComponent(rest.join("/")), app, new URLSearchParams(search2 ?? ""));
    if (mine === navigation) {
      screen = handlers ?? {};
      const missed = pending;
      pending = null;
      for (const [name2, data] of missed) screen[name2]?.(data);
    }
  } catch (err) {
    if (mine !== navigation) return;
    pending = null;
    if (err instanceof ApiError && (err.code === "unauthorized" || err.code === "session_key")) return signedOut();
    replace(
      main,
      heading("Something went wrong"),
      h("p", {}, "This page could not be shown."),
      h("p", {}, h("a", { href: "#/" }, "Back to the timeline"))
    );
    showError(err);
  }
  if (mine === navigation) {
    const wanted = focusAfterRoute && main.querySelector(focusAfterRoute);
    focusAfterRoute = null;
    (wanted || main).focus({ preventScroll: true });
  }
}
function signedOut() {
  navigation++;
  screen = {};
  pending = null;
  forgetKey();
  document.body.dataset.ready = "signed-out";
  for (const el of document.querySelectorAll("nav, .live")) el.hidden = true;
  replace(
    main,
    heading("Sign in"),
    h("p", {}, "This is the web app of your Handbill node. To sign in, run this in a terminal on this computer:"),
    h("pre", {}, "handbill open"),
    h(
      "p",
      { class: "hint" },
      "It opens a one-time link that signs this browser in (or prints it with ",
      h("code", {}, "--print"),
      "). The node must be running: start it with ",
      h("code", {}, "handbilld"),
      "."
    )
  );
}
var wasLive = false;
var lost = false;
function live(open) {
  if (open && lost) {
    lost = false;
    clearErrors();
    if (![...main.querySelectorAll("textarea")].some((t) => t.value.trim())) route();
  }
  if (!open && wasLive) lost = true;
  wasLive = open;
  const el = document.getElementById("live");
  el.className = "live " + (open ? "on" : "off");
  el.textContent = open ? "Live" : "Reconnecting…";
}
function keys(e) {
  if (e.target.closest("input, textarea, select") || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === "/") {
    e.preventDefault();
    if (location.hash.startsWith("#/search")) {
      document.querySelector("#search-q")?.focus();
      return;
    }
    focusAfterRoute = "#search-q";
    location.hash = "#/search";
  } else if (e.key === "n") {
    const text = main.querySelector("form.compose textarea");
    if (text) {
      e.preventDefault();
      text.focus();
    }
  }
}
async function boot() {
  performance.mark("boot");
  const signedIn = adoptKey();
  const session = signedIn ? startSession() : null;
  session?.catch(() => {
  });
  if (signedIn && location.hash.replace(/^#\/?/, "") === "") app.early = prefetchTimeline();
  await pageParsed();
  main = document.getElementById("main");
  if (!signedIn) return signedOut();
  setViewer(session.then((s) => s.author));
  window.addEventListener("hashchange", route);
  document.addEventListener("keydown", keys);
  setInterval(refreshTimes, 3e4);
  const first = route();
  try {
    await session;
  } catch (err) {
    if (err instanceof ApiError && (err.code === "unauthorized" || err.code === "session_key")) return signedOut();
    await first;
    replace(main, heading("Cannot reach your node"));
    showError(err);
    return;
  }
  const deliver = (name, data) => {
    if (pending) pending.push([name, data]);
    else screen[name]?.(data);
  };
  openStream({
    stored: (item) => {
      eventStored(item);
      deliver("stored", item);
    },
    notification: (n) => {
      app.setUnread(unread + (n.unread ? 1 : 0));
      deliver("notification", n);
    }
  }, live, (err) => {
    if (err.code === "unauthorized" || err.code === "session_key") signedOut();
    else showError(err, "Live updates stopped");
  });
  get("/v1/notifications?limit=1").then((n) => app.setUnread(n.unread)).catch(() => {
  });
  await first;
}
boot();
