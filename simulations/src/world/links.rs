//! Simulated links: reachability and partitions, latency, message sizes, upload queues,
//! sending, and the arrival of messages at a node.

use super::{Ev, MESSAGE_ID_BYTES, Msg, Outgoing, TOPIC_NAME_BYTES, World, timestamp};
use crate::gossipsub::{Control, NodeId};
use crate::queue::{Micros, millis};
use crate::scenario::{Model, Split};
use handbill_protocol::wire::Response;
use rand::Rng;

impl World {
    pub(super) fn reachable(&self, a: NodeId, b: NodeId) -> bool {
        self.nodes[a as usize].side == self.nodes[b as usize].side
    }

    pub(super) fn latency(&mut self, a: NodeId, b: NodeId) -> Micros {
        let net = &self.sc.network;
        let ra = self.nodes[a as usize].region as usize;
        let rb = self.nodes[b as usize].region as usize;
        let base = net.latency_ms[ra][rb];
        let jitter = if net.jitter_ms > 0.0 {
            self.rng.r#gen::<f64>() * net.jitter_ms
        } else {
            0.0
        };
        millis(base + jitter)
    }

    fn size_of(&self, msg: &Msg) -> (u64, bool) {
        let overhead = self.sc.network.overhead_bytes;
        match msg {
            Msg::Gossip { msg, .. } => (
                overhead
                    + TOPIC_NAME_BYTES
                    + MESSAGE_ID_BYTES
                    + self.messages[*msg as usize].data.len() as u64,
                true,
            ),
            Msg::Control(c) => {
                let body = match c {
                    Control::IHave(ids) | Control::IWant(ids) => {
                        TOPIC_NAME_BYTES + MESSAGE_ID_BYTES * ids.len() as u64
                    }
                    Control::IDontWant(_) => MESSAGE_ID_BYTES,
                    Control::Graft(_) | Control::Prune(_) => TOPIC_NAME_BYTES,
                };
                (overhead + body, false)
            }
            Msg::Request(r) => (overhead + 8 + r.1.encode().len() as u64, false),
            Msg::Response(r) => match &r.1 {
                Response::Events { events, .. } => (
                    overhead + 48 + events.iter().map(|e| e.0.len() as u64 + 4).sum::<u64>(),
                    true,
                ),
                other => (overhead + 8 + other.encode().len() as u64, false),
            },
        }
    }

    pub(super) fn send(&mut self, from: NodeId, to: NodeId, msg: Msg) {
        let (bytes, _) = self.size_of(&msg);
        let rate = self.sc.network.upload_bytes_per_s;
        let control = !matches!(msg, Msg::Gossip { .. } | Msg::Response(_));
        let now = self.now;
        let up = &mut self.nodes[from as usize].uplink;
        if rate <= 0.0 {
            self.transmit(from, to, msg, bytes, now);
            return;
        }
        if !self.sc.dissemination.idontwant {
            // Without IDONTWANT nothing is decided at the head of the queue, so the departure
            // time is known now, at one event per message. Control preempts data (it leaves
            // after earlier control, delaying data by its own size); data leaves in FIFO order.
            // The queue below differs in one way: there control waits for the message already
            // on the wire.
            let tx = tx_time(bytes, rate);
            let depart = if control {
                up.control_until = up.control_until.max(now) + tx;
                up.busy_until = up.busy_until.max(now) + tx;
                up.control_until
            } else {
                up.busy_until = up.busy_until.max(now) + tx;
                up.busy_until
            };
            self.transmit(from, to, msg, bytes, depart);
            return;
        }
        if up.busy_until <= now && up.control.is_empty() && up.data.is_empty() {
            let done = now + tx_time(bytes, rate);
            up.busy_until = done;
            self.transmit(from, to, msg, bytes, done);
            return;
        }
        let out = Outgoing { to, msg, bytes };
        if control {
            up.control.push_back(out);
        } else {
            up.data.push_back(out);
        }
        if !up.wake_scheduled {
            up.wake_scheduled = true;
            let at = up.busy_until.max(now);
            self.queue.push(at, Ev::UplinkFree(from));
        }
    }

    pub(super) fn uplink_free(&mut self, n: NodeId) {
        let rate = self.sc.network.upload_bytes_per_s;
        let now = self.now;
        loop {
            let node = &mut self.nodes[n as usize];
            node.uplink.wake_scheduled = false;
            let next = node
                .uplink
                .control
                .pop_front()
                .or_else(|| node.uplink.data.pop_front());
            let Some(out) = next else { return };
            // IDONTWANT is honoured when the message reaches the head of the queue.
            if let Msg::Gossip { msg, .. } = &out.msg
                && node.router.does_not_want(out.to, *msg)
            {
                self.tally.dont_want_saved += 1;
                continue;
            }
            let done = now.max(node.uplink.busy_until) + tx_time(out.bytes, rate);
            node.uplink.busy_until = done;
            let more = !node.uplink.control.is_empty() || !node.uplink.data.is_empty();
            if more {
                node.uplink.wake_scheduled = true;
                self.queue.push(done, Ev::UplinkFree(n));
            }
            self.transmit(n, out.to, out.msg, out.bytes, done);
            return;
        }
    }

    fn transmit(&mut self, from: NodeId, to: NodeId, msg: Msg, bytes: u64, depart: Micros) {
        let payload = matches!(msg, Msg::Gossip { .. })
            || matches!(&msg, Msg::Response(r) if matches!(r.1, Response::Events { .. }));
        let bucket_width = millis(self.sc.metrics.interval_ms).max(1);
        let online = self.online_count;
        let bucket = self.tally.bucket((depart / bucket_width) as usize, online);
        if payload {
            bucket.payload += bytes;
            self.tally.payload_bytes[from as usize] += bytes;
        } else {
            bucket.control += bytes;
            self.tally.control_bytes[from as usize] += bytes;
        }
        if self.sc.network.loss > 0.0 && self.rng.r#gen::<f64>() < self.sc.network.loss {
            return;
        }
        let at = depart + self.latency(from, to);
        self.queue.push(at, Ev::Deliver { from, to, msg });
    }

    pub(super) fn deliver(&mut self, from: NodeId, to: NodeId, msg: Msg) {
        let connectionless =
            self.sc.dissemination.model == Model::Push && matches!(msg, Msg::Gossip { .. });
        {
            let node = &self.nodes[to as usize];
            if !node.online() || !self.reachable(from, to) {
                return;
            }
            if !connectionless && !node.conns.contains(&from) {
                return;
            }
            if self.sc.dissemination.model == Model::Gossipsub
                && node.router.graylisted(from, &self.sc.dissemination)
            {
                self.tally.graylisted_drops += 1;
                return;
            }
        }
        match msg {
            Msg::Gossip { msg, hops } => self.on_gossip(from, to, msg, hops),
            Msg::Control(c) => self.on_control(from, to, c),
            Msg::Request(r) => {
                let (id, request) = *r;
                self.on_request(from, to, id, request);
            }
            Msg::Response(r) => {
                let (id, response) = *r;
                if let Some((peer, request)) = self.nodes[to as usize].pending.remove(&id)
                    && peer == from
                {
                    let now = timestamp(self.now);
                    if let Some(engine) = self.nodes[to as usize].engine.as_mut() {
                        engine.handle_response(&from, &request, response, now);
                    }
                    self.drain(to);
                }
            }
        }
    }

    pub(super) fn partition(&mut self, index: usize) {
        let p = self.sc.partitions[index].clone();
        let sides = match p.split {
            Split::Regions => self.sc.network.regions.len(),
            Split::Random => p.parts,
        };
        for n in 0..self.nodes.len() {
            let side = match p.split {
                Split::Regions => self.nodes[n].region as usize,
                Split::Random => self.rng.gen_range(0..sides),
            };
            self.nodes[n].side = side as u16 + 1;
        }
        for a in 0..self.nodes.len() as NodeId {
            for b in self.nodes[a as usize].conns.clone() {
                if !self.reachable(a, b) {
                    self.disconnect(a, b);
                }
            }
        }
    }

    pub(super) fn heal(&mut self) {
        for node in &mut self.nodes {
            node.side = 0;
        }
        self.heal_at = Some(self.now);
    }
}

fn tx_time(bytes: u64, rate: f64) -> Micros {
    ((bytes as f64 / rate) * 1_000_000.0).ceil() as Micros
}
