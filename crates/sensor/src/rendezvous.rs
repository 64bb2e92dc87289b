//! Where replay workers wait for each other. Some detections read what
//! other workers' flows left in shared state (a host confirmed as a
//! stepping stone, a bot's reaction, thresholds): if one worker ran on into
//! the next capture file, or ended its flows, while another was still
//! processing the previous file, what it saw would depend on thread timing,
//! and the same captures would give different alerts from run to run. At
//! the end of each file, where packet time pauses, and before flows are
//! ended, every worker first finishes what it was sent.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// A reusable barrier that a party can leave for good (a worker that died):
/// the others are then not kept waiting for it.
#[derive(Debug)]
pub struct Rendezvous {
    state: Mutex<State>,
    all_here: Condvar,
}

#[derive(Debug)]
struct State {
    parties: usize,
    arrived: usize,
    round: u64,
}

impl Rendezvous {
    pub fn new(parties: usize) -> Self {
        Rendezvous {
            state: Mutex::new(State {
                parties,
                arrived: 0,
                round: 0,
            }),
            all_here: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A party that panicked while holding the lock left the counts
        // consistent (nothing in here panics between updates).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until every party still here has arrived.
    pub fn wait(&self) {
        let mut s = self.lock();
        s.arrived += 1;
        if s.arrived >= s.parties {
            Self::release(&mut s);
            self.all_here.notify_all();
            return;
        }
        let round = s.round;
        while s.round == round {
            s = self
                .all_here
                .wait(s)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// One party goes away for good.
    pub fn leave(&self) {
        let mut s = self.lock();
        s.parties = s.parties.saturating_sub(1);
        if s.arrived > 0 && s.arrived >= s.parties {
            Self::release(&mut s);
            self.all_here.notify_all();
        }
    }

    fn release(s: &mut State) {
        s.arrived = 0;
        s.round += 1;
    }
}

/// Held by a worker for as long as it runs: however it stops (a panic
/// included), it leaves the rendezvous, so no other worker waits for it.
pub struct Attendance<'a>(pub &'a Rendezvous);

impl Drop for Attendance<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn nobody_passes_before_everyone_arrived_round_after_round() {
        let r = Arc::new(Rendezvous::new(3));
        let passed = Arc::new(AtomicUsize::new(0));
        let arrived = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (r, passed, arrived) = (r.clone(), passed.clone(), arrived.clone());
                std::thread::spawn(move || {
                    for round in 1..=50 {
                        arrived.fetch_add(1, Ordering::SeqCst);
                        r.wait();
                        // Everyone of this round arrived before anyone passed.
                        assert!(arrived.load(Ordering::SeqCst) >= round * 3);
                        passed.fetch_add(1, Ordering::SeqCst);
                        r.wait();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(passed.load(Ordering::SeqCst), 150);
    }

    #[test]
    fn a_party_that_dies_does_not_keep_the_others_waiting() {
        let r = Arc::new(Rendezvous::new(3));
        let waiting: Vec<_> = (0..2)
            .map(|_| {
                let r = r.clone();
                std::thread::spawn(move || {
                    let _here = Attendance(&r);
                    r.wait();
                    r.wait();
                })
            })
            .collect();
        let dead = {
            let r = r.clone();
            std::thread::spawn(move || {
                let _here = Attendance(&r);
                std::thread::sleep(std::time::Duration::from_millis(50));
                panic!("a worker dies before its first rendezvous");
            })
        };
        assert!(dead.join().is_err());
        for t in waiting {
            t.join().unwrap();
        }
    }
}
