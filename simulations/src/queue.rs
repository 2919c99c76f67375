//! Virtual time and the event queue: a binary heap ordered by (time, insertion order), so events
//! due at the same instant run in the order they were scheduled and a run is reproducible.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Virtual time in microseconds since the start of the run.
pub type Micros = u64;

/// Converts milliseconds (as scenarios give them) to virtual time.
pub fn millis(ms: f64) -> Micros {
    (ms.max(0.0) * 1000.0).round() as Micros
}

/// Converts seconds to virtual time.
pub fn seconds(s: f64) -> Micros {
    (s.max(0.0) * 1_000_000.0).round() as Micros
}

/// A heap entry: the ordering key and where the event waits. Events live in a slab beside the
/// heap, so sifting moves 24 bytes instead of a whole event (the heap is the simulator's
/// hottest loop).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Entry {
    at: Micros,
    seq: u64,
    slot: u32,
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    // Reversed: BinaryHeap is a max-heap and the earliest event must come out first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Pending events in time order.
pub struct Queue<E> {
    heap: BinaryHeap<Entry>,
    slots: Vec<Option<E>>,
    free: Vec<u32>,
    next_seq: u64,
}

impl<E> Default for Queue<E> {
    fn default() -> Self {
        Queue {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            next_seq: 0,
        }
    }
}

impl<E> Queue<E> {
    /// Schedules `event` at `at`.
    pub fn push(&mut self, at: Micros, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slots.push(Some(event));
                (self.slots.len() - 1) as u32
            }
        };
        self.heap.push(Entry { at, seq, slot });
    }

    /// The earliest event, if any.
    pub fn pop(&mut self) -> Option<(Micros, E)> {
        let entry = self.heap.pop()?;
        let event = self.slots[entry.slot as usize].take()?;
        self.free.push(entry.slot);
        Some((entry.at, event))
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_ties_in_scheduling_order() {
        let mut q = Queue::default();
        q.push(5, "c");
        q.push(1, "a");
        q.push(5, "d");
        q.push(1, "b");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![(1, "a"), (1, "b"), (5, "c"), (5, "d")]);
        assert_eq!(millis(1.5), 1500);
        assert_eq!(seconds(2.0), 2_000_000);
    }
}
