// Sends the network ingest benchmark's workload to a Nostr relay: pre-signed text notes by
// AUTHORS authors, interleaved as live traffic is, over one WebSocket, as fast as the relay
// takes them. Prints one JSON line: events sent, accepted, seconds from the first send to the
// last OK (the relay answers OK once it has stored an event, NIP-01), and events/s.
//
// usage: node send.mjs ws://127.0.0.1:PORT TOTAL AUTHORS
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import WebSocket from 'ws';

const [url, totalArg, authorsArg] = process.argv.slice(2);
const authors = Number(authorsArg ?? 100);
const perAuthor = Math.ceil(Number(totalArg ?? 50000) / authors);
const keys = Array.from({ length: authors }, () => generateSecretKey());
const now = Math.floor(Date.now() / 1000);
// The same text as measure_node's posts (about 200 bytes).
const filler = 'lorem ipsum dolor sit amet '.repeat(7);
const frames = [];
for (let i = 0; i < perAuthor; i++) {
  for (const key of keys) {
    const event = finalizeEvent(
      { kind: 1, created_at: now, tags: [], content: `post ${i}: ${filler}` },
      key,
    );
    frames.push(JSON.stringify(['EVENT', event]));
  }
}

const socket = new WebSocket(url);
let started = 0;
let answered = 0;
let accepted = 0;
const refusals = new Map();
const deadline = setTimeout(() => finish('timed out'), 600_000);

function finish(problem) {
  clearTimeout(deadline);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    JSON.stringify({
      sent: frames.length,
      answered,
      accepted,
      seconds,
      per_second: accepted / seconds,
      refusals: Object.fromEntries(refusals),
      problem: problem ?? null,
    }),
  );
  socket.close();
  process.exit(problem ? 1 : 0);
}

socket.on('open', () => {
  started = performance.now();
  for (const frame of frames) socket.send(frame);
});
socket.on('message', (data) => {
  const message = JSON.parse(data.toString());
  if (message[0] !== 'OK') return;
  answered += 1;
  if (message[2]) {
    accepted += 1;
  } else {
    const reason = String(message[3]).split(':')[0];
    refusals.set(reason, (refusals.get(reason) ?? 0) + 1);
  }
  if (answered === frames.length) finish();
});
socket.on('error', (e) => finish(`socket error: ${e.message}`));
