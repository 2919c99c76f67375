// A stock js-libp2p peer for the handbilld interop test.
//
// Usage: node peer.mjs DAEMON_MULTIADDR TOPIC [--no-ping]
//
// Dials the daemon, subscribes to TOPIC and prints one JSON line per event on stdout:
//   {"ready":true,"peer":"<own peer id>","daemon_subscribed":true|false}
//       once connected and subscribed: as soon as the daemon's own subscription to TOPIC is
//       seen, or 5 s after connecting without it (then daemon_subscribed is false)
//   {"opened":"<connection id>","remote":"<peer id>"}
//   {"closed":"<connection id>","remote":"<peer id>","after_ms":N}   N = ms since it opened;
//       not printed for the connections that this peer's own shutdown closes
//   {"message":"<hex of message data>","topic":"<topic>"}            once per gossip message
// Diagnostics go to stderr. Stays up until stdin closes or SIGTERM/SIGINT, then stops libp2p
// and exits 0. Never redials: the test wants to see drops.
//
// --no-ping: the node has no ping service (inbound /ipfs/ping/1.0.0 is unsupported) and its
// connection monitor, which pings every connection every 10 s, is off too: a peer without ping.
// Without it the node is stock: ping service and the default connection monitor.

// libp2p 3.x uses Promise.withResolvers, which Node 20 lacks. Set before the imports below,
// which are dynamic for that reason (static imports would run before this line).
if (!Promise.withResolvers) {
  Promise.withResolvers = function () {
    let resolve, reject
    const promise = new this((a, b) => { resolve = a; reject = b })
    return { promise, resolve, reject }
  }
}

const { createLibp2p } = await import('libp2p')
const { tcp } = await import('@libp2p/tcp')
const { noise } = await import('@chainsafe/libp2p-noise')
const { yamux } = await import('@chainsafe/libp2p-yamux')
const { gossipsub } = await import('@libp2p/gossipsub')
const { identify } = await import('@libp2p/identify')
const { ping } = await import('@libp2p/ping')
const { multiaddr } = await import('@multiformats/multiaddr')
const { blake3 } = await import('@noble/hashes/blake3.js')

const args = process.argv.slice(2)
const noPing = args.includes('--no-ping')
const positional = args.filter(a => !a.startsWith('--'))
if (positional.length !== 2 || args.some(a => a.startsWith('--') && a !== '--no-ping')) {
  process.stderr.write('usage: node peer.mjs DAEMON_MULTIADDR TOPIC [--no-ping]\n')
  process.exit(2)
}
const [daemonAddr, topic] = positional

function emit (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

function log (...parts) {
  process.stderr.write(`[peer.mjs ${new Date().toISOString()}] ${parts.join(' ')}\n`)
}

// The daemon's gossip message id (node/src/network.rs `message_id`): blake3 in derive_key mode
// with context "handbill 1 gossip message id", over the topic string's bytes then the data.
const MSG_ID_CONTEXT = new TextEncoder().encode('handbill 1 gossip message id')
function messageId (msg) {
  const t = new TextEncoder().encode(msg.topic)
  const input = new Uint8Array(t.length + msg.data.length)
  input.set(t, 0)
  input.set(msg.data, t.length)
  return blake3(input, { context: MSG_ID_CONTEXT }) // 32 bytes
}

let stopping = false

const services = {
  identify: identify(),
  pubsub: gossipsub({
    // The daemon runs ValidationMode::Anonymous / MessageAuthenticity::Anonymous: no from,
    // seqno, signature or key on the wire.
    globalSignaturePolicy: 'StrictNoSign',
    msgIdFn: messageId,
    emitSelf: false,
    fallbackToFloodsub: false,
    allowPublishToZeroTopicPeers: true,
    // Keep the daemon out of any score-based pruning or graylisting: everything on one host.
    scoreParams: { IPColocationFactorWeight: 0 },
    // Daemon messages go up to 4 x 64 KiB; the default 4 MiB inbound limit covers that.
    maxInboundDataLength: 4 * 1024 * 1024
  })
}
if (!noPing) services.ping = ping()

const node = await createLibp2p({
  addresses: { listen: [] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services,
  ...(noPing ? { connectionMonitor: { enabled: false } } : {})
})

node.addEventListener('connection:open', (evt) => {
  const conn = evt.detail
  emit({ opened: conn.id, remote: conn.remotePeer.toString() })
})
node.addEventListener('connection:close', (evt) => {
  if (stopping) return // our own shutdown closing it is no drop
  const conn = evt.detail
  const openedAt = conn.timeline?.open ?? Date.now()
  emit({ closed: conn.id, remote: conn.remotePeer.toString(), after_ms: Date.now() - openedAt })
})

const pubsub = node.services.pubsub
pubsub.addEventListener('message', (evt) => {
  const msg = evt.detail
  if (msg.topic !== topic) return
  emit({ message: Buffer.from(msg.data).toString('hex'), topic: msg.topic })
})

async function shutdown (code) {
  if (stopping) return
  stopping = true
  try {
    await node.stop()
  } catch (err) {
    log('stop failed:', err?.stack ?? err)
  }
  process.exit(code)
}
process.on('SIGTERM', () => { shutdown(0) })
process.on('SIGINT', () => { shutdown(0) })
process.stdin.on('end', () => { shutdown(0) })
process.stdin.on('close', () => { shutdown(0) })
process.stdin.on('error', () => { shutdown(0) })
process.stdin.resume()

await node.start()
pubsub.subscribe(topic)

await main()

async function main () {
  let daemon
  try {
    const conn = await node.dial(multiaddr(daemonAddr), { signal: AbortSignal.timeout(20_000) })
    daemon = conn.remotePeer
    log(`connected to ${daemon} over ${conn.remoteAddr} (${noPing ? 'no ping' : 'stock'})`)
  } catch (err) {
    if (stopping) return // stdin closed or a signal came while dialling: shutdown() exits 0
    log('dial failed:', err?.stack ?? err)
    stopping = true
    await node.stop().catch(() => {})
    process.exit(1)
  }

  // Ready once the daemon is known to be on the topic (its subscription came over the gossipsub
  // stream, and ours went the other way on the same exchange), or after 5 s regardless.
  let ready = false
  const announceReady = (daemonSubscribed) => {
    if (ready || stopping) return
    ready = true
    emit({ ready: true, peer: node.peerId.toString(), daemon_subscribed: daemonSubscribed })
  }
  const daemonOnTopic = () => pubsub.getSubscribers(topic).some(p => p.equals(daemon))
  if (daemonOnTopic()) {
    announceReady(true)
    return
  }
  const onChange = () => {
    if (daemonOnTopic()) {
      pubsub.removeEventListener('subscription-change', onChange)
      announceReady(true)
    }
  }
  pubsub.addEventListener('subscription-change', onChange)
  setTimeout(() => {
    pubsub.removeEventListener('subscription-change', onChange)
    announceReady(daemonOnTopic())
  }, 5000)
}
