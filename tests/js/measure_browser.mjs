// Measures the web app's time to a usable timeline and its page weight in headless Chromium;
// run by `cargo run --release -p handbill-tests --example measure_browser`, which starts the
// daemon and fills it. Prints one JSON object.
//
// "Usable" is the app's `timeline-ready` mark: the first page of the timeline rendered, with
// its buttons live. Cold runs use a fresh browser context (empty cache; the session's cookie
// and stored key copied in, as a returning visitor has them); warm runs reload the page in one
// context (assets revalidated by ETag).

import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const browser = await chromium.launch({ executablePath: config.chromium, args: ['--no-sandbox', '--disable-dev-shm-usage'] });

async function ready(page) {
  await page.waitForSelector('body[data-ready="timeline"]', { timeout: 60_000 });
  return page.evaluate(() => {
    const mark = performance.getEntriesByName('timeline-ready')[0].startTime;
    const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
    const app = entries.filter((e) => !e.name.includes('/v1/'));
    const api = entries.filter((e) => e.name.includes('/v1/timeline'));
    return {
      ms: mark,
      items: document.querySelectorAll('article.item').length,
      assets_encoded: app.reduce((n, e) => n + e.encodedBodySize, 0),
      assets_transferred: app.reduce((n, e) => n + e.transferSize, 0),
      timeline_json: api.reduce((n, e) => n + e.encodedBodySize, 0),
      requests: entries.length,
      waterfall: [
        ...entries.map((e) => `${e.name.replace(location.origin, '')} ${e.startTime.toFixed(1)}+${e.duration.toFixed(1)}`),
        ...['requestStart', 'responseStart', 'responseEnd', 'domInteractive', 'domContentLoadedEventStart', 'domContentLoadedEventEnd']
          .map((k) => `document ${k} ${performance.getEntriesByType('navigation')[0][k].toFixed(1)}`),
        ...performance.getEntriesByType('mark').map((m) => `mark ${m.name} ${m.startTime.toFixed(1)}`),
      ],
    };
  });
}

const first = await browser.newContext();
const page = await first.newPage();
await page.goto(config.url);
const signedIn = await ready(page);
const storageState = await first.storageState();

const cold = [];
for (let i = 0; i < config.runs; i++) {
  const context = await browser.newContext({ storageState });
  const p = await context.newPage();
  await p.goto(config.origin + '/');
  cold.push(await ready(p));
  await context.close();
}
const warm = [];
for (let i = 0; i < config.runs; i++) {
  await page.reload();
  warm.push(await ready(page));
}
console.log(JSON.stringify({ signedIn, cold, warm }));
await browser.close();
