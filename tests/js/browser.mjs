// The web app in a real browser (the system's headless Chromium through playwright-core),
// against real daemons that tests/tests/browser.rs started. Reads its set-up from the JSON file
// named by argv[2]; exits non-zero with the failed step on stderr. Screenshots of every screen
// go to `out`.
//
// Steps: Bob signs in with a `handbill open --print` link, follows Alice from the empty
// timeline and replies to her post; Alice's open thread and notifications pages show the reply
// live; Bob subscribes to a moderation feed and a labelled post collapses with its reason until
// "show anyway"; a label published while Bob's timeline is open collapses a shown post live.
// Refused: the sign-in link a second time, the API without a session, a change from a page on
// another 127.0.0.1 port (cookie attached), the cookie that port's server received replayed
// from outside the browser, a revoked session. Every response carries the CSP, and no page or
// script holds the API token.

import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const LONG = 90_000;
mkdirSync(config.out, { recursive: true });

let stepName = 'starting';
const started = Date.now();
/** Starts a named step (logged with the time since the start, named in failures). */
function step(name) {
  log(`${((Date.now() - started) / 1000).toFixed(1)} s: ${name}`);
  stepName = name;
}
function check(condition, what) {
  if (!condition) throw new Error(`${stepName}: ${what}`);
}
function log(message) {
  process.stderr.write(`[browser] ${message}\n`);
}

const browser = await chromium.launch({
  executablePath: config.chromium,
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});

/** Records every response of the app's origin, to check headers and that no body holds the token. */
function watch(page, origin, token, seen) {
  page.on('response', async (response) => {
    if (!response.url().startsWith(origin)) return;
    const headers = await response.allHeaders();
    seen.push({ url: response.url(), status: response.status(), headers });
    const type = headers['content-type'] ?? '';
    if (type.includes('event-stream') || response.status() === 303) return;
    try {
      const body = await response.text();
      if (body.includes(token)) seen.leaks.push(response.url());
    } catch {
      // Bodies of redirected or aborted requests are not available.
    }
  });
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(config.out, `${name}.png`), fullPage: true });
}

async function go(page, hash, ready) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  if (ready) await page.waitForSelector(ready, { timeout: LONG });
}

try {
  // --- Bob signs in ---
  step('Bob signs in');
  const bobSeen = Object.assign([], { leaks: [] });
  const bobContext = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  const bob = await bobContext.newPage();
  watch(bob, config.bob.origin, config.bob.token, bobSeen);
  const landing = await bob.goto(config.bob.url);
  check(landing.ok(), `the app answered ${landing.status()}`);
  await bob.waitForSelector('body[data-ready="timeline"]', { timeout: LONG });
  check(bob.url() === config.bob.origin + '/#/', `the code and the key left the address bar (at ${bob.url()})`);
  const cookies = await bobContext.cookies();
  const session = cookies.find((c) => c.name.startsWith('handbill-'));
  check(session && session.httpOnly && session.sameSite === 'Strict', `an HttpOnly SameSite=Strict cookie (${JSON.stringify(cookies)})`);
  check(await bob.isVisible('text=Your timeline is empty.'), 'the first-run empty state shows');
  await shot(bob, 'timeline-empty');

  // --- Refused: the same link again ---
  step('the sign-in link a second time');
  const again = await browser.newContext();
  const againPage = await again.newPage();
  const reused = await againPage.goto(config.bob.url);
  check(reused.status() === 403, `a reused code is refused (got ${reused.status()})`);
  check((await again.cookies()).length === 0, 'no cookie for a reused code');
  check(await againPage.isVisible('text=Sign-in refused'), 'the refusal says what happened');
  await shot(againPage, 'signin-refused');
  // --- Refused: the API without a session ---
  step('the API without a session');
  const bare = await again.request.get(config.bob.origin + '/v1/timeline');
  check(bare.status() === 401, `no session, no data (got ${bare.status()})`);
  await againPage.goto(config.bob.origin + '/');
  await againPage.waitForSelector('body[data-ready="signed-out"]', { timeout: LONG });
  await shot(againPage, 'signed-out');
  await again.close();

  // --- Bob follows Alice from the empty state, and replies to her post ---
  step('Bob follows Alice');
  await bob.fill('#follow-author', config.alice.author);
  await bob.click('form:has(#follow-author) button[type=submit]');
  await bob.waitForSelector(`article[data-id="${config.hello}"]`, { timeout: LONG });
  await shot(bob, 'timeline');
  await bob.setViewportSize({ width: 390, height: 844 });
  await shot(bob, 'timeline-phone');
  await bob.setViewportSize({ width: 1000, height: 900 });

  step('Alice opens her thread and notifications');
  const aliceSeen = Object.assign([], { leaks: [] });
  const aliceContext = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  const aliceThread = await aliceContext.newPage();
  watch(aliceThread, config.alice.origin, config.alice.token, aliceSeen);
  await aliceThread.goto(config.alice.url);
  await aliceThread.waitForSelector('body[data-ready="timeline"]', { timeout: LONG });
  await go(aliceThread, `#/thread/${config.hello}`, `article.focus[data-id="${config.hello}"]`);
  const aliceNotes = await aliceContext.newPage();
  watch(aliceNotes, config.alice.origin, config.alice.token, aliceSeen);
  await aliceNotes.goto(config.alice.origin + '/#/notifications');
  await aliceNotes.waitForSelector('h1:has-text("Notifications")', { timeout: LONG });
  for (const p of [aliceThread, aliceNotes]) await p.evaluate(() => { window.stillTheSamePage = true; });

  step('Bob replies from the browser');
  const replyText = 'Welcome to the web, Alice! #browser';
  const hello = bob.locator(`article[data-id="${config.hello}"]`);
  await hello.locator('button', { hasText: 'Reply' }).click();
  await hello.locator('textarea').fill(replyText);
  await hello.locator('form.compose button[type=submit]').click();
  await hello.locator('form.compose').waitFor({ state: 'detached', timeout: LONG });

  step("Alice's pages show Bob's reply live");
  await aliceThread.waitForSelector(`article.item:has-text("${replyText}")`, { timeout: LONG });
  await aliceNotes.waitForSelector(`.notification[data-reason="reply"]:has-text("${replyText}")`, { timeout: LONG });
  for (const p of [aliceThread, aliceNotes]) {
    check(await p.evaluate(() => window.stillTheSamePage === true), 'the page was not reloaded');
  }
  check(await aliceThread.isVisible('.badge#unread'), 'the unread badge shows');
  await shot(aliceThread, 'thread');
  await shot(aliceNotes, 'notifications');

  step('Bob likes Alice’s post, sees it as liked, and takes it back');
  const liked = bob.locator(`article[data-id="${config.hello}"]`);
  await liked.locator('button[aria-pressed="false"]', { hasText: '♥ Like' }).click();
  await liked.locator('button[aria-pressed="true"]', { hasText: '♥ Like · 1' }).waitFor({ timeout: LONG });
  await liked.locator('button[aria-pressed="true"]', { hasText: '♥ Like' }).click();
  await liked.locator('button[aria-pressed="false"]', { hasText: '♥ Like' }).waitFor({ timeout: LONG });
  check(!(await liked.locator('button[aria-pressed="true"]').count()), 'nothing shows as done any more');
  check(!(await liked.locator('button', { hasText: '♥ Like · ' }).count()), 'the count went back to none');

  // --- Bob chooses the moderation feed; the labelled post collapses ---
  step('Bob subscribes to the moderation feed');
  await go(bob, '#/moderation', '#feed-author');
  await bob.fill('#feed-author', config.moderator);
  await bob.click('form[aria-label="Subscribe to a moderation feed"] button[type=submit]');
  await bob.waitForSelector(`section[data-feed="${config.moderator}"] tr[data-label="violence"]`, { timeout: LONG });
  const saved = bob.waitForResponse((r) => r.url().endsWith('/v1/moderation/feeds') && r.request().method() === 'POST');
  await bob.selectOption(`section[data-feed="${config.moderator}"] tr[data-label="violence"] select`, 'hide');
  check((await saved).status() === 204 || (await saved).ok(), 'the label action was saved');
  await shot(bob, 'moderation');

  step('the labelled post collapses with its reason');
  // The feed's label reaches Bob's node after its declaration; wait until the node applies it.
  const hidden = Date.now() + LONG;
  while (Date.now() < hidden) {
    const verdict = await bob.evaluate(async (id) => {
      const headers = { 'X-Handbill-Key': localStorage.getItem('handbill-session-key') };
      return (await (await fetch(`/v1/events/${id}`, { headers })).json()).moderation.action;
    }, config.labelled);
    if (verdict === 'hide') break;
    await bob.waitForTimeout(250);
  }
  const labelled = `article[data-id="${config.labelled}"]`;
  await go(bob, '#/', `${labelled}[data-action="hide"]`);
  const collapsed = await bob.textContent(`${labelled} .collapsed`);
  check(collapsed.includes('violence') && collapsed.includes('Safety Desk'), `the reason shows (${collapsed})`);
  check(!(await bob.isVisible(`${labelled} .text`)), 'the text stays hidden until asked');
  await shot(bob, 'timeline-moderated');
  await bob.click(`${labelled} button:has-text("Show anyway")`);
  await bob.waitForSelector(`${labelled} .text:has-text("${config.labelled_text}")`, { timeout: LONG });
  await shot(bob, 'timeline-shown-anyway');

  step('a label arriving later collapses a post already on screen, without a reload');
  const shownHello = `article[data-id="${config.hello}"]`;
  await go(bob, '#/', `${shownHello}[data-action="show"]`);
  // Marks the drawn list itself: a reload or a redraw of the whole screen would replace it.
  await bob.evaluate(() => { document.querySelector('main .items').dataset.sameList = 'yes'; });
  const late = await fetch(`${config.moderator_api.origin}/v1/events`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${config.moderator_api.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ kind: 'label', target: config.hello, value: 'violence', reason: 'a late label' }),
  });
  check(late.ok, `the moderator published the label (${late.status} ${await late.text()})`);
  await bob.waitForSelector(`${shownHello}[data-action="hide"] .collapsed:has-text("a late label")`, { timeout: LONG });
  check(await bob.evaluate(() => document.querySelector('main .items')?.dataset.sameList === 'yes'),
    'the post was redrawn in place (no reload, no redraw of the screen)');
  await shot(bob, 'timeline-labelled-live');

  step("the feed's labels, newest first, on the moderation screen");
  const feedCard = `section[data-feed="${config.moderator}"]`;
  await go(bob, '#/moderation', `${feedCard} details`);
  await bob.click(`${feedCard} details summary`);
  await bob.waitForSelector(`${feedCard} ul.issued li:nth-child(2)`, { timeout: LONG });
  const issued = await bob.locator(`${feedCard} ul.issued li`).allTextContents();
  check(issued.length === 2 && issued[0].includes('a late label') && issued[1].includes('threat'),
    `both labels, the newest first (${JSON.stringify(issued)})`);

  // --- The other screens, for the record ---
  step('the other screens');
  await go(bob, `#/author/${config.alice.author}`, 'section.profile');
  await shot(bob, 'author');
  await go(bob, '#/search?q=' + encodeURIComponent('#browser'), 'h1:has-text("Search")');
  await bob.waitForSelector(`article.item:has-text("${replyText}")`, { timeout: LONG });
  await shot(bob, 'search');
  await go(bob, '#/host-policy', 'h1:has-text("Host policy")');
  await shot(bob, 'host-policy');
  await go(bob, '#/node', '#author-id');
  check(await bob.isVisible(`h2:has-text("Following (1)") + ul a[href="#/author/${config.alice.author}"]:has-text("alice")`),
    'the node page lists whom Bob follows, by name');
  await shot(bob, 'node');

  step('a post of only spaces is refused in place, next to the box');
  await go(bob, '#/', 'form.compose textarea');
  await bob.fill('form.compose textarea', '   ');
  await bob.click('form.compose button[type=submit]');
  await bob.waitForSelector('form.compose .inline-error:has-text("Write something first")', { timeout: LONG });

  step('Bob edits his reply and reads its earlier version');
  const edited = 'Welcome to the web, Alice! (edited in the browser) #browser';
  await go(bob, `#/author/${config.bob.author}`, `article.item:has-text("${replyText}")`);
  const reply = bob.locator(`article.item:has-text("${replyText}")`);
  await reply.locator('button', { hasText: 'Edit' }).click();
  await reply.locator('textarea').fill(edited);
  await reply.locator('form.compose button[type=submit]').click();
  const editedReply = bob.locator(`article.item:has-text("${edited}")`);
  await editedReply.locator('button', { hasText: '(edited)' }).click();
  await editedReply.locator('ol.history li').nth(1).waitFor({ timeout: LONG });
  const versions = await editedReply.locator('ol.history li').allTextContents();
  check(versions.length === 2 && versions[0].includes(replyText) && versions[1].includes(edited),
    `both versions, oldest first (${JSON.stringify(versions)})`);
  await shot(bob, 'edit-history');

  step('Bob makes a reading list of Alice and reads it');
  await go(bob, '#/moderation', '#list-name');
  await bob.fill('#list-name', 'friends');
  await bob.selectOption('#list-purpose', 'curate');
  await bob.click('form[aria-label="Create a list"] button[type=submit]');
  await bob.waitForSelector('section[data-list="friends"]', { timeout: LONG });
  await bob.fill('section[data-list="friends"] input', config.alice.author);
  await bob.click('section[data-list="friends"] button[type=submit]');
  await bob.waitForSelector(`section[data-list="friends"] a[href="#/author/${config.alice.author}"]`, { timeout: LONG });
  await shot(bob, 'lists');
  await bob.click('section[data-list="friends"] a:has-text("Read this list")');
  await bob.waitForSelector(`h1:has-text("List: friends") ~ .items article[data-id="${config.hello}"]`, { timeout: LONG });
  check(!(await bob.isVisible(`article.item:has-text("${edited}")`)), 'only the members’ posts (not Bob’s own)');
  await shot(bob, 'list-timeline');

  // --- Refused: a change from a page on another 127.0.0.1 port, with the cookie attached ---
  step('a page on another port');
  let cookieSeenElsewhere = '';
  const evil = http.createServer((req, res) => {
    // Browsers send 127.0.0.1's cookies to every port: this server receives Bob's session cookie.
    cookieSeenElsewhere ||= req.headers.cookie ?? '';
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><title>elsewhere</title><body>
      <form id="f" method="POST" action="${config.bob.origin}/v1/events" enctype="text/plain">
        <input name='{"kind":"post","text":"forged by a form","x":"' value='"}'></form>
      <script>
        fetch('${config.bob.origin}/v1/events', {method: 'POST', credentials: 'include',
          headers: {'content-type': 'text/plain'}, body: JSON.stringify({kind: 'post', text: 'forged by fetch'})})
          .finally(() => document.getElementById('f').submit());
      </script></body>`);
  });
  await new Promise((resolve) => evil.listen(0, '127.0.0.1', resolve));
  const evilOrigin = `http://127.0.0.1:${evil.address().port}`;
  check(evilOrigin !== config.bob.origin, 'another port');
  const evilPage = await bobContext.newPage();
  // Raw request headers (cookies included) and statuses straight from Chromium's network
  // layer: the page itself cannot read a refused cross-origin response.
  const cdp = await bobContext.newCDPSession(evilPage);
  await cdp.send('Network.enable');
  const forged = new Map();
  const entry = (id) => forged.get(id) ?? forged.set(id, {}).get(id);
  cdp.on('Network.requestWillBeSent', (e) => { entry(e.requestId).url = e.request.url; });
  cdp.on('Network.requestWillBeSentExtraInfo', (e) => { entry(e.requestId).headers = e.headers; });
  cdp.on('Network.responseReceivedExtraInfo', (e) => { entry(e.requestId).status = e.statusCode; });
  const toApi = () => [...forged.values()].filter((f) => (f.url ?? '').startsWith(config.bob.origin + '/v1/events'));
  await evilPage.goto(evilOrigin + '/');
  const deadline = Date.now() + LONG;
  while (toApi().filter((f) => f.status && f.headers).length < 2 && Date.now() < deadline) await evilPage.waitForTimeout(100);
  const sent = toApi();
  check(sent.length === 2, `a fetch and a form were sent (${JSON.stringify(sent)})`);
  for (const f of sent) {
    const cookie = Object.entries(f.headers ?? {}).find(([k]) => k.toLowerCase() === 'cookie')?.[1] ?? '';
    check(cookie.includes(session.name + '='), `the browser attached the session cookie (${JSON.stringify(f)})`);
    check(f.status === 403, `the forged change was refused (${JSON.stringify(f)})`);
  }
  evil.close();
  await evilPage.close();

  step('a stolen cookie replayed outside the browser');
  check(cookieSeenElsewhere.includes(session.name + '='), `the other port's server got the cookie (${cookieSeenElsewhere})`);
  const replayRead = await fetch(config.bob.origin + '/v1/session', { headers: { cookie: cookieSeenElsewhere } });
  check(replayRead.status === 403, `reading with the cookie alone is refused (got ${replayRead.status})`);
  const replayWrite = await fetch(config.bob.origin + '/v1/events', {
    method: 'POST',
    headers: { cookie: cookieSeenElsewhere, origin: config.bob.origin, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'post', text: 'forged with a stolen cookie' }),
  });
  check(replayWrite.status === 403, `a change with the cookie and a faked Origin is refused (got ${replayWrite.status})`);

  // --- Refused: a revoked session ---
  step('a revoked session');
  const listed = execFileSync(config.handbill, ['--home', config.bob.home, '--json', 'sessions'], { encoding: 'utf8' })
    .trim().split('\n').map((l) => JSON.parse(l));
  check(listed.length === 1, `one browser session listed (${listed.length})`);
  execFileSync(config.handbill, ['--home', config.bob.home, 'sessions', 'revoke', listed[0].id]);
  const afterRevoke = await bob.evaluate(async () => {
    const headers = { 'X-Handbill-Key': localStorage.getItem('handbill-session-key') };
    return (await fetch('/v1/timeline', { headers })).status;
  });
  check(afterRevoke === 401, `a revoked session is refused (got ${afterRevoke})`);
  await go(bob, '#/notifications', 'body[data-ready="signed-out"]');
  await shot(bob, 'revoked');

  // --- Headers and the token ---
  step('headers and the token');
  for (const seen of [bobSeen, aliceSeen]) {
    check(seen.length > 10, `responses were recorded (${seen.length})`);
    for (const r of seen) {
      const csp = r.headers['content-security-policy'] ?? '';
      check(csp.includes("script-src 'self'") && !csp.includes('unsafe-inline'), `CSP on ${r.url} (${csp})`);
    }
    check(seen.leaks.length === 0, `the token appears in ${seen.leaks.join(', ')}`);
  }
  for (const [page, token] of [[aliceThread, config.alice.token], [aliceNotes, config.alice.token]]) {
    check(!(await page.content()).includes(token), 'the token is not in the page');
  }
  log(`ok: ${bobSeen.length + aliceSeen.length} responses checked; screenshots in ${config.out}`);
  await browser.close();
} catch (err) {
  log(`FAILED at ${stepName}: ${err.stack ?? err}`);
  await browser.close().catch(() => {});
  process.exit(1);
}
