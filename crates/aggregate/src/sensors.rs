//! The sensors of the fleet, by name (each record's `host`), with their
//! tags and what each sent. Bounded by `sensors.max`: records of sensors
//! beyond it are counted and not analysed. A record without `host` is from
//! a sensor that has no name (a version before names, or a tool): it is
//! taken as the sensor named `-`.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// What is known of one sensor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sensor {
    pub name: String,
    pub tags: BTreeMap<String, String>,
    pub records: u64,
    /// Newest event time it sent (µs).
    pub newest: u64,
}

/// A sensor's index in the registry (stable for the registry's life).
pub type SensorId = u16;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Sensors {
    pub list: Vec<Sensor>,
    #[serde(skip)]
    index: HashMap<String, SensorId>,
    max: usize,
    /// Records from sensors beyond `max`.
    pub refused: u64,
}

/// Tags kept per sensor, and their text.
const MAX_TAGS: usize = 32;

impl Sensors {
    pub fn new(max: usize) -> Self {
        Sensors {
            max: max.min(usize::from(SensorId::MAX)),
            ..Sensors::default()
        }
    }

    /// After loading from a checkpoint: rebuilds the index.
    pub fn reindex(&mut self, max: usize) {
        self.max = max.min(usize::from(SensorId::MAX));
        self.index = self
            .list
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i as SensorId))
            .collect();
    }

    /// The sensor named `name`, registered if new; `None` when the registry
    /// is full.
    pub fn intern(
        &mut self,
        name: &str,
        tags: Option<&BTreeMap<String, String>>,
    ) -> Option<SensorId> {
        if let Some(&i) = self.index.get(name) {
            return Some(i);
        }
        if self.list.len() >= self.max {
            self.refused += 1;
            return None;
        }
        let i = self.list.len() as SensorId;
        let tags = tags
            .map(|t| {
                t.iter()
                    .take(MAX_TAGS)
                    .map(|(k, v)| (clip(k), clip(v)))
                    .collect()
            })
            .unwrap_or_default();
        self.list.push(Sensor {
            name: clip(name),
            tags,
            ..Sensor::default()
        });
        self.index.insert(name.to_owned(), i);
        Some(i)
    }

    pub fn get(&self, id: SensorId) -> Option<&Sensor> {
        self.list.get(usize::from(id))
    }

    pub fn note(&mut self, id: SensorId, t: u64) {
        if let Some(s) = self.list.get_mut(usize::from(id)) {
            s.records += 1;
            s.newest = s.newest.max(t);
        }
    }

    pub fn name(&self, id: SensorId) -> &str {
        self.get(id).map_or("-", |s| s.name.as_str())
    }
}

fn clip(s: &str) -> String {
    let mut end = s.len().min(crate::line::TEXT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_stable() {
        let mut s = Sensors::new(2);
        assert_eq!(s.intern("a", None), Some(0));
        assert_eq!(s.intern("b", None), Some(1));
        assert_eq!(s.intern("a", None), Some(0));
        assert_eq!(s.intern("c", None), None);
        assert_eq!(s.refused, 1);
        let json = serde_json::to_string(&s).unwrap();
        let mut back: Sensors = serde_json::from_str(&json).unwrap();
        back.reindex(2);
        assert_eq!(back.intern("b", None), Some(1));
    }
}
