//! Bursts: several distinct links of one message hit within seconds from one network.
//!
//! A person reads, then clicks one link, maybe another a minute later. A scanner fetches
//! every link of the message at once. The tracker remembers, per (message, network key), the
//! hits of the last `burst_window_ms`; when the hits within a window of each other cover at
//! least `burst_distinct_links` distinct links, they are a burst: the hit that completes it
//! and every earlier hit in its window are relabelled (the tracker says which), and later
//! hits of the same key within the window of a burst hit join it.
//!
//! Memory is bounded: keys expire `burst_window_ms` after their last hit (the clock is the
//! hits' own receive times, or [`BurstTracker::expire`]'s `now_ms`); at most
//! `burst_max_keys` keys are kept (the least recently hit go first) with at most
//! `burst_max_hits_per_key` hits each. Messages and links are kept as 64-bit hashes.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};

use ipnet::IpNet;

use crate::BotRules;

/// One hit as the tracker sees it. `hit` is the caller's handle for it (a hit id), returned
/// in [`BurstObservation::relabel`].
#[derive(Debug, Clone, Copy)]
pub struct BurstHit<'a, H> {
    /// The message id (from the token).
    pub message: &'a str,
    /// [`crate::network_key`] of the client address.
    pub network: IpNet,
    /// The link's identity within the message (its original URL or its index).
    pub link: &'a str,
    /// The caller's handle for this hit.
    pub hit: H,
    /// When the hit was received, in milliseconds.
    pub at_ms: i64,
}

/// What the tracker says about one hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BurstObservation<H> {
    /// This hit is part of a burst.
    pub in_burst: bool,
    /// Earlier hits that this hit makes part of a burst (each is named once, the first time).
    pub relabel: Vec<H>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    message: u64,
    network: IpNet,
}

#[derive(Debug, Clone)]
struct Seen<H> {
    at_ms: i64,
    link: u64,
    hit: H,
    in_burst: bool,
}

#[derive(Debug, Clone)]
struct KeyState<H> {
    last_ms: i64,
    hits: VecDeque<Seen<H>>,
}

/// Finds bursts; see the module docs. Pure: time comes in with each call.
#[derive(Debug, Clone)]
pub struct BurstTracker<H> {
    window_ms: i64,
    distinct: usize,
    max_keys: usize,
    max_hits_per_key: usize,
    keys: HashMap<Key, KeyState<H>>,
    /// (at_ms, key) in arrival order; each key's latest hit is always in here.
    queue: VecDeque<(i64, Key)>,
    watermark: i64,
}

fn hash_str(s: &str) -> u64 {
    // DefaultHasher::new() has fixed keys: the same string always hashes the same.
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

impl<H: Clone> BurstTracker<H> {
    /// A tracker with the burst thresholds and caps of `rules`.
    pub fn new(rules: &BotRules) -> Self {
        BurstTracker {
            window_ms: i64::try_from(rules.burst_window_ms).unwrap_or(i64::MAX),
            distinct: rules.burst_distinct_links.max(1) as usize,
            max_keys: rules.burst_max_keys.max(1),
            max_hits_per_key: rules.burst_max_hits_per_key.max(1),
            keys: HashMap::new(),
            queue: VecDeque::new(),
            watermark: i64::MIN,
        }
    }

    /// How many (message, network) keys are remembered now.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Forgets keys whose last hit is more than the window before `now_ms`.
    pub fn expire(&mut self, now_ms: i64) {
        self.watermark = self.watermark.max(now_ms);
        let horizon = self.watermark.saturating_sub(self.window_ms);
        while let Some(&(t, key)) = self.queue.front() {
            if t >= horizon {
                break;
            }
            self.queue.pop_front();
            self.drop_if_latest(t, key);
        }
    }

    /// Removes `key` if `t` is its latest hit. Returns true if it was removed.
    fn drop_if_latest(&mut self, t: i64, key: Key) -> bool {
        if self.keys.get(&key).is_some_and(|s| s.last_ms <= t) {
            self.keys.remove(&key);
            return true;
        }
        false
    }

    /// Drops the least recently hit key.
    fn evict_one(&mut self) {
        while let Some((t, key)) = self.queue.pop_front() {
            if self.drop_if_latest(t, key) {
                return;
            }
        }
    }

    /// Records one hit and says whether it is part of a burst, and which earlier hits it
    /// makes part of one.
    pub fn observe(&mut self, hit: BurstHit<'_, H>) -> BurstObservation<H> {
        self.expire(hit.at_ms);
        let key = Key {
            message: hash_str(hit.message),
            network: hit.network.trunc(),
        };
        if !self.keys.contains_key(&key) && self.keys.len() >= self.max_keys {
            self.evict_one();
        }
        let window = self.window_ms;
        let distinct_needed = self.distinct;
        let link = hash_str(hit.link);
        let at = hit.at_ms;
        let state = self.keys.entry(key).or_insert_with(|| KeyState {
            last_ms: at,
            hits: VecDeque::new(),
        });

        // Forget this key's hits that can no longer share a window with anything new.
        let newest = state.last_ms.max(at);
        while state
            .hits
            .front()
            .is_some_and(|s| s.at_ms < newest.saturating_sub(window))
        {
            state.hits.pop_front();
        }

        let near = |s: &Seen<H>| (s.at_ms - at).abs() <= window;
        // Joins a burst already found, or completes one with the hits in its window.
        let mut in_burst = state.hits.iter().any(|s| s.in_burst && near(s));
        if !in_burst {
            let mut links: Vec<u64> = state
                .hits
                .iter()
                .filter(|s| near(s))
                .map(|s| s.link)
                .collect();
            links.push(link);
            links.sort_unstable();
            links.dedup();
            in_burst = links.len() >= distinct_needed;
        }
        let mut relabel = Vec::new();
        if in_burst {
            for s in state
                .hits
                .iter_mut()
                .filter(|s| !s.in_burst && (s.at_ms - at).abs() <= window)
            {
                s.in_burst = true;
                relabel.push(s.hit.clone());
            }
        }
        state.hits.push_back(Seen {
            at_ms: at,
            link,
            hit: hit.hit,
            in_burst,
        });
        while state.hits.len() > self.max_hits_per_key {
            state.hits.pop_front();
        }
        state.last_ms = newest;

        self.queue.push_back((at, key));
        // The queue holds one item per hit in the window; cap it too, dropping oldest first.
        let queue_cap = self.max_keys.saturating_mul(2).saturating_add(1024);
        while self.queue.len() > queue_cap {
            if let Some((t, k)) = self.queue.pop_front() {
                self.drop_if_latest(t, k);
            }
        }
        BurstObservation { in_burst, relabel }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn net(s: &str) -> IpNet {
        crate::network_key(s.parse().unwrap())
    }

    fn tracker() -> BurstTracker<u32> {
        BurstTracker::new(&BotRules::default())
    }

    fn obs(
        t: &mut BurstTracker<u32>,
        msg: &str,
        ip: &str,
        link: &str,
        id: u32,
        at: i64,
    ) -> BurstObservation<u32> {
        t.observe(BurstHit {
            message: msg,
            network: net(ip),
            link,
            hit: id,
            at_ms: at,
        })
    }

    #[test]
    fn three_distinct_links_in_seconds_are_a_burst_and_relabel_the_first_two() {
        let mut t = tracker();
        assert_eq!(
            obs(&mut t, "m", "198.51.100.7", "a", 1, 0),
            BurstObservation {
                in_burst: false,
                relabel: vec![]
            }
        );
        assert!(!obs(&mut t, "m", "198.51.100.8", "b", 2, 400).in_burst);
        let third = obs(&mut t, "m", "198.51.100.9", "c", 3, 900);
        assert_eq!(
            third,
            BurstObservation {
                in_burst: true,
                relabel: vec![1, 2]
            }
        );
        // A fourth joins; nothing left to relabel. A repeat of a link joins too.
        assert_eq!(
            obs(&mut t, "m", "198.51.100.7", "d", 4, 1_300),
            BurstObservation {
                in_burst: true,
                relabel: vec![]
            }
        );
        assert!(obs(&mut t, "m", "198.51.100.7", "a", 5, 1_500).in_burst);
    }

    #[test]
    fn repeats_of_one_link_are_not_a_burst() {
        let mut t = tracker();
        for i in 0..10 {
            assert!(!obs(&mut t, "m", "198.51.100.7", "a", i, i64::from(i) * 100).in_burst);
        }
    }

    #[test]
    fn other_messages_and_other_networks_do_not_add_up() {
        let mut t = tracker();
        assert!(!obs(&mut t, "m1", "198.51.100.7", "a", 1, 0).in_burst);
        assert!(!obs(&mut t, "m2", "198.51.100.7", "b", 2, 100).in_burst);
        assert!(!obs(&mut t, "m1", "203.0.113.7", "c", 3, 200).in_burst);
        assert!(!obs(&mut t, "m1", "198.51.100.7", "b", 4, 300).in_burst);
        // IPv6: one /48 is one network.
        assert!(!obs(&mut t, "m3", "2001:db8:1:1::1", "a", 5, 0).in_burst);
        assert!(!obs(&mut t, "m3", "2001:db8:1:2::1", "b", 6, 10).in_burst);
        assert!(obs(&mut t, "m3", "2001:db8:1:ffff::9", "c", 7, 20).in_burst);
    }

    #[test]
    fn a_human_a_minute_apart_is_not_a_burst() {
        let mut t = tracker();
        assert!(!obs(&mut t, "m", "73.15.2.9", "a", 1, 0).in_burst);
        assert!(!obs(&mut t, "m", "73.15.2.9", "b", 2, 60_000).in_burst);
        assert!(!obs(&mut t, "m", "73.15.2.9", "c", 3, 125_000).in_burst);
    }

    #[test]
    fn outside_the_window_does_not_count() {
        let mut t = tracker();
        obs(&mut t, "m", "198.51.100.7", "a", 1, 0);
        obs(&mut t, "m", "198.51.100.7", "b", 2, 5_001);
        assert!(!obs(&mut t, "m", "198.51.100.7", "c", 3, 10_002).in_burst);
    }

    #[test]
    fn keys_expire_and_the_cap_holds() {
        let rules = BotRules {
            burst_max_keys: 10,
            ..BotRules::default()
        };
        let mut t: BurstTracker<u32> = BurstTracker::new(&rules);
        for i in 0..100u32 {
            obs(
                &mut t,
                &format!("m{i}"),
                "198.51.100.7",
                "a",
                i,
                i64::from(i),
            );
            assert!(t.len() <= 10);
        }
        t.expire(1_000_000);
        assert!(t.is_empty());
        assert!(t.queue.is_empty());
    }

    proptest! {
        /// Bounded memory whatever the input, and a burst always needs enough distinct links.
        #[test]
        fn bounded_and_sound(
            hits in proptest::collection::vec((0u8..20, 0u8..4, 0u8..6, 0i64..20_000), 1..300),
            max_keys in 1usize..16,
        ) {
            let rules = BotRules { burst_max_keys: max_keys, burst_max_hits_per_key: 8, ..BotRules::default() };
            let mut t: BurstTracker<usize> = BurstTracker::new(&rules);
            let mut sorted = hits.clone();
            sorted.sort_by_key(|h| h.3);
            let mut labelled = std::collections::HashSet::new();
            for (i, (msg, netw, link, at)) in sorted.iter().enumerate() {
                let ip = format!("198.51.{netw}.1");
                let o = t.observe(BurstHit { message: &format!("m{msg}"), network: net(&ip), link: &format!("l{link}"), hit: i, at_ms: *at });
                for r in &o.relabel {
                    prop_assert!(*r < i, "only earlier hits are relabelled");
                    prop_assert!(labelled.insert(*r), "each hit is relabelled once");
                }
                if o.in_burst { labelled.insert(i); }
                prop_assert!(t.len() <= max_keys);
                prop_assert!(t.queue.len() <= max_keys * 2 + 1024);
                prop_assert!(t.keys.values().all(|s| s.hits.len() <= 8));
            }
        }

        /// A sequence with fewer distinct links than the threshold is never a burst.
        #[test]
        fn two_links_never_burst(times in proptest::collection::vec(0i64..10_000, 1..50)) {
            let mut t: BurstTracker<usize> = BurstTracker::new(&BotRules::default());
            let mut times = times;
            times.sort_unstable();
            for (i, at) in times.iter().enumerate() {
                let link = if i % 2 == 0 { "a" } else { "b" };
                let o = t.observe(BurstHit { message: "m", network: net("198.51.100.1"), link, hit: i, at_ms: *at });
                prop_assert!(!o.in_burst);
            }
        }
    }
}
