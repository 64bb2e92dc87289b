//! Bounded maps. Everything the report keeps per key that a log's author
//! chooses (addresses, host names, domains) goes into one of these: the
//! first `cap` keys are kept; what arrives for other keys once full is
//! counted, so the page can say how much it does not itemise.

use std::collections::HashMap;
use std::hash::Hash;

type Map<K, V> = HashMap<K, V, foldhash::quality::RandomState>;

/// Count, first and last time per key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    pub count: u64,
    /// Microseconds of packet time; 0 when the records had none.
    pub first: u64,
    pub last: u64,
}

impl Seen {
    pub fn add(&mut self, t: Option<u64>, n: u64) {
        if let Some(t) = t {
            self.first = if self.first == 0 {
                t
            } else {
                self.first.min(t)
            };
            self.last = self.last.max(t);
        }
        self.count = self.count.saturating_add(n);
    }
}

impl Seen {
    /// Adds another tally of the same thing.
    pub fn merge(&mut self, o: &Seen) {
        if o.first > 0 {
            self.first = if self.first == 0 {
                o.first
            } else {
                self.first.min(o.first)
            };
        }
        self.last = self.last.max(o.last);
        self.count = self.count.saturating_add(o.count);
    }
}

/// A map of at most `cap` keys.
#[derive(Clone, Debug)]
pub struct Bounded<K, V> {
    map: Map<K, V>,
    cap: usize,
    /// Keys refused because the map was full (each time one was offered).
    pub refused: u64,
}

impl<K: Hash + Eq + Clone, V: Default> Bounded<K, V> {
    pub fn new(cap: usize) -> Self {
        Bounded {
            map: Map::default(),
            cap,
            refused: 0,
        }
    }

    /// The value for `k`, created if there is room; `None` (and counted) if not.
    pub fn entry(&mut self, k: K) -> Option<&mut V> {
        if !self.map.contains_key(&k) {
            if self.map.len() >= self.cap {
                self.refused += 1;
                return None;
            }
            self.map.insert(k.clone(), V::default());
        }
        self.map.get_mut(&k)
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        self.map.get(k)
    }

    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.map.get_mut(k)
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        self.map.remove(k)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.map.len() >= self.cap
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter()
    }
}

/// Occurrences per key: a [`Bounded`] of [`Seen`], with what was not kept.
#[derive(Clone, Debug)]
pub struct Tally<K> {
    inner: Bounded<K, Seen>,
    /// Occurrences of keys that were not kept.
    pub untallied: u64,
}

impl<K: Hash + Eq + Clone + Ord> Tally<K> {
    pub fn new(cap: usize) -> Self {
        Tally {
            inner: Bounded::new(cap),
            untallied: 0,
        }
    }

    pub fn add(&mut self, k: K, t: Option<u64>) {
        self.add_n(k, t, 1);
    }

    pub fn add_n(&mut self, k: K, t: Option<u64>, n: u64) {
        match self.inner.entry(k) {
            Some(s) => s.add(t, n),
            None => self.untallied = self.untallied.saturating_add(n),
        }
    }

    pub fn len(&self) -> usize {
        self.inner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// True when keys were refused: counts of distinct keys are lower bounds.
    pub fn overflowed(&self) -> bool {
        self.inner.refused > 0
    }

    pub fn get(&self, k: &K) -> Option<&Seen> {
        self.inner.get(k)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &Seen)> {
        self.inner.iter()
    }

    /// The `n` most frequent keys (ties by key, so the page is the same every run).
    pub fn top(&self, n: usize) -> Vec<(&K, &Seen)> {
        let mut v: Vec<_> = self.inner.iter().collect();
        v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(b.0)));
        v.truncate(n);
        v
    }

    /// Keys matching `f`, most frequent first.
    pub fn top_where(&self, n: usize, f: impl Fn(&K) -> bool) -> Vec<(&K, &Seen)> {
        let mut v: Vec<_> = self.inner.iter().filter(|(k, _)| f(k)).collect();
        v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(b.0)));
        v.truncate(n);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_keys_and_counts_the_rest() {
        let mut t = Tally::new(2);
        t.add("a", Some(5));
        t.add("b", Some(3));
        t.add("a", Some(1));
        t.add("c", Some(9));
        t.add("c", None);
        assert_eq!(t.len(), 2);
        assert_eq!(t.untallied, 2);
        assert!(t.overflowed());
        let a = t.get(&"a").unwrap();
        assert_eq!((a.count, a.first, a.last), (2, 1, 5));
        assert_eq!(t.top(1)[0].0, &"a");
    }
}
