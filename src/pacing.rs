//! Per-sender pacing: each sending number gets a send slot at most every `interval`, so a
//! burst to many contacts does not trip the carrier's limits. Shared by the send path
//! (which claims a message as it records it when its number's slot is free at once) and
//! delivery (which waits for the next slot otherwise, and before each retry).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use foldhash::{HashMap, HashMapExt};

pub struct Pacing {
    interval: Duration,
    /// When each sending number may send next.
    next_slot: Mutex<HashMap<String, Instant>>,
}

impl Pacing {
    pub fn new(interval: Duration) -> Pacing {
        Pacing {
            interval,
            next_slot: Mutex::new(HashMap::new()),
        }
    }

    /// Reserves `from`'s next free slot and answers when it is.
    pub fn reserve(&self, from: &str) -> Instant {
        self.reserve_slot(from, false)
            .expect("an unconditional reservation always succeeds")
    }

    /// Reserves `from`'s slot only if it is free now.
    pub fn take_now(&self, from: &str) -> bool {
        self.reserve_slot(from, true).is_some()
    }

    fn reserve_slot(&self, from: &str, only_if_free_now: bool) -> Option<Instant> {
        let mut slots = self
            .next_slot
            .lock()
            .expect("the slot map lock is never held across a panic");
        let now = Instant::now();
        let next = slots.get(from).copied().filter(|next| *next > now);
        if only_if_free_now && next.is_some() {
            return None;
        }
        let slot = next.unwrap_or(now);
        // Allocation only for a number not seen yet: the send path calls this per message.
        match slots.get_mut(from) {
            Some(next) => *next = slot + self.interval,
            None => {
                slots.insert(from.to_string(), slot + self.interval);
            }
        }
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_gets_one_slot_per_interval_and_numbers_do_not_share() {
        let pacing = Pacing::new(Duration::from_secs(3600));
        assert!(pacing.take_now("+14155550100"));
        assert!(
            !pacing.take_now("+14155550100"),
            "the next slot is an hour away"
        );
        assert!(pacing.take_now("+14155550101"));
        let later = pacing.reserve("+14155550100");
        assert!(later >= Instant::now() + Duration::from_secs(3500));
        let after_that = pacing.reserve("+14155550100");
        assert_eq!(after_that - later, Duration::from_secs(3600));
    }
}
