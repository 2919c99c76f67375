#!/usr/bin/env bash
# Network ingest, Handbill against nostr-rs-relay, on the same workload and machine: NET_POSTS
# (default 50,000) pre-signed posts by 100 authors, interleaved, sent over loopback as fast as
# the receiver takes them. Prints both rates and their ratio.
#
#   tests/compare/nostr/run.sh            (from anywhere; NET_POSTS=n to change the count)
#
# Handbill: `measure_node ingest-net` (one gossipsub peer into a handbilld that follows all
# 100 authors: decode, verify, store, index). Nostr: send.mjs over one WebSocket into
# nostr-rs-relay with its SQLite store, counting events until the relay's last OK (it answers
# once an event is stored).
#
# nostr-rs-relay is built once into $HANDBILL_BENCH_CACHE (default ~/.cache/handbill-bench);
# the build needs protoc (Debian: protobuf-compiler, installed if absent when run as root).
# This is a measurement tool: CI never runs it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
posts=${NET_POSTS:-50000}
cache=${HANDBILL_BENCH_CACHE:-$HOME/.cache/handbill-bench}
relay_version=0.8.12
relay=$cache/nostr-rs-relay-$relay_version/bin/nostr-rs-relay

if [ ! -x "$relay" ]; then
  if ! command -v protoc >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
      apt-get install -y protobuf-compiler
    else
      echo "nostr-rs-relay needs protoc to build: install protobuf-compiler" >&2
      exit 1
    fi
  fi
  echo "building nostr-rs-relay $relay_version into $cache (once)..." >&2
  # Not --locked: its lock file pins time 0.3.25, which no longer compiles with current Rust.
  cargo install nostr-rs-relay --version "$relay_version" \
    --root "$cache/nostr-rs-relay-$relay_version"
fi
if [ ! -d "$here/node_modules" ]; then
  npm ci --prefix "$here" --silent
fi

work=$(mktemp -d)
relay_pid=
cleanup() {
  if [ -n "$relay_pid" ]; then kill "$relay_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/config.toml" <<CONFIG
[info]
relay_url = "ws://127.0.0.1:$port/"
name = "handbill comparison"

[database]
data_directory = "$work"

[network]
address = "127.0.0.1"
port = $port

[limits]
# No rate limit, and buffers that hold the whole burst: measure storage, not throttling.
broadcast_buffer = 65536
event_persist_buffer = 65536
CONFIG
RUST_LOG=warn "$relay" --config "$work/config.toml" > "$work/relay.log" 2>&1 &
relay_pid=$!
for _ in $(seq 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.1
done

echo "nostr-rs-relay: sending $posts events by 100 authors..." >&2
nostr=$(node "$here/send.mjs" "ws://127.0.0.1:$port" "$posts" 100)
echo "nostr-rs-relay: $nostr" >&2
kill "$relay_pid" && wait "$relay_pid" 2>/dev/null || true
relay_pid=

echo "handbilld: measure_node ingest-net with $posts posts..." >&2
handbill=$(cd "$repo" && NET_POSTS=$posts cargo run --release --quiet -p handbill-tests \
  --example measure_node -- ingest-net | grep '^ingest-net: .* posts/s')
echo "$handbill" >&2

nostr_rate=$(echo "$nostr" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["per_second"]))')
handbill_rate=$(echo "$handbill" | sed -E 's/.* = ([0-9]+) posts\/s.*/\1/')
python3 - "$handbill_rate" "$nostr_rate" "$posts" <<'REPORT'
import sys
handbill, nostr, posts = (float(a) for a in sys.argv[1:])
print(f"network ingest of {int(posts):,} posts by 100 authors over loopback:")
print(f"  handbilld (gossipsub, sled):           {handbill:>8,.0f} posts/s")
print(f"  nostr-rs-relay (WebSocket, SQLite):    {nostr:>8,.0f} events/s")
print(f"  ratio handbilld / nostr-rs-relay:      {handbill / nostr:>8.2f}")
REPORT
