//! The coordination model (issue 17): the masters' election group on a ZooKeeper-like
//! ensemble, driven by the simulator's virtual clock.
//!
//! It follows `drover_coord`'s rules (the crate's `//!` and `ZkCoordinator`, and the master
//! driver's `ha.rs`):
//!
//! - a **session** lives while its process keeps contact; the ensemble expires it
//!   [`SESSION_TIMEOUT_MS`] after the last contact, and with it the process's membership;
//! - the process itself holds a **lease**: it vouches for its session only until
//!   [`LEASE_MS`] (two thirds of the timeout) after the last answer, so a paused or partitioned
//!   master stops acting before the ensemble gives its place away;
//! - members get increasing **sequence numbers**; the lowest leads, and its sequence is the
//!   leadership term's epoch;
//! - a **fenced write** commits only while the writer's own member still exists, whether or
//!   not the writer has noticed it was deposed.
//!
//! `drover_coord::MemoryEnsemble` has the same tree semantics, but it is not used here: it has
//! no clock (a session ends only when a test expires it, so the timeout rules above would
//! have to be written around it anyway), its API is async over tokio watch channels, and it
//! would bring tokio and the ZooKeeper client into this single-threaded, dependency-light
//! loop. This model is the part of it the simulator needs, as plain data.

use std::collections::BTreeMap;

/// The masters' ZooKeeper session timeout (Drover's default `--zk_session_timeout`).
pub const SESSION_TIMEOUT_MS: u64 = 10_000;
/// How long a process vouches for its session after the last answer (two thirds of the
/// timeout, as `ZkCoordinator`'s lease).
pub const LEASE_MS: u64 = SESSION_TIMEOUT_MS * 2 / 3;
/// How often a live process pings the ensemble (and notices what happened to its session).
pub const PING_MS: u64 = 1_000;

/// The ensemble: sessions, their last contact, and the members of the masters' group.
#[derive(Debug, Default, Clone)]
pub struct Ensemble {
    next_session: u64,
    next_seq: u64,
    /// Live sessions and when each was last heard from.
    sessions: BTreeMap<u64, u64>,
    /// Members by sequence: (session, master slot).
    members: BTreeMap<u64, (u64, usize)>,
}

impl Ensemble {
    /// Opens a session at `now`.
    pub fn open(&mut self, now: u64) -> u64 {
        self.next_session += 1;
        self.sessions.insert(self.next_session, now);
        self.next_session
    }

    /// Joins the group for `slot` in `session`: the member's sequence, or `None` when the
    /// session is gone.
    pub fn join(&mut self, session: u64, slot: usize) -> Option<u64> {
        if !self.sessions.contains_key(&session) {
            return None;
        }
        self.next_seq += 1;
        self.members.insert(self.next_seq, (session, slot));
        Some(self.next_seq)
    }

    /// Contact from `session` at `now`; false when the session is gone (the process is told
    /// it expired).
    pub fn touch(&mut self, session: u64, now: u64) -> bool {
        match self.sessions.get_mut(&session) {
            Some(last) => {
                *last = now;
                true
            }
            None => false,
        }
    }

    /// Ends `session` and removes its members (an expiry, or a close).
    pub fn close(&mut self, session: u64) {
        self.sessions.remove(&session);
        self.members.retain(|_, (s, _)| *s != session);
    }

    /// Expires every session not heard from for longer than the timeout; returns them.
    pub fn expire_stale(&mut self, now: u64) -> Vec<u64> {
        let stale: Vec<u64> = self
            .sessions
            .iter()
            .filter(|&(_, &last)| now.saturating_sub(last) > SESSION_TIMEOUT_MS)
            .map(|(&id, _)| id)
            .collect();
        for &id in &stale {
            self.close(id);
        }
        stale
    }

    /// Whether the member with sequence `seq` still exists (the fence's check).
    pub fn is_member(&self, seq: u64) -> bool {
        self.members.contains_key(&seq)
    }

    /// Whether `session` is alive on the ensemble's side.
    pub fn is_alive(&self, session: u64) -> bool {
        self.sessions.contains_key(&session)
    }

    /// The lowest member: (sequence, slot).
    pub fn leader(&self) -> Option<(u64, usize)> {
        self.members
            .first_key_value()
            .map(|(&seq, &(_, slot))| (seq, slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_member_leads_until_its_session_expires_and_its_fence_falls_with_it() {
        let mut e = Ensemble::default();
        let a = e.open(0);
        let b = e.open(0);
        let sa = e.join(a, 0).expect("alive");
        let sb = e.join(b, 1).expect("alive");
        assert_eq!(e.leader(), Some((sa, 0)));
        // b keeps contact, a goes silent: a expires after the timeout, not before.
        e.touch(b, SESSION_TIMEOUT_MS);
        assert!(e.expire_stale(SESSION_TIMEOUT_MS).is_empty());
        e.touch(b, SESSION_TIMEOUT_MS + 1);
        assert_eq!(e.expire_stale(SESSION_TIMEOUT_MS + 1), vec![a]);
        assert!(!e.is_member(sa), "the deposed member's fence is gone");
        assert_eq!(e.leader(), Some((sb, 1)));
        // The expired process learns on its next contact, and cannot rejoin in that session.
        assert!(!e.touch(a, SESSION_TIMEOUT_MS + 2));
        assert_eq!(e.join(a, 0), None);
        // A new session joins behind the current leader.
        let c = e.open(SESSION_TIMEOUT_MS + 3);
        let sc = e.join(c, 0).expect("alive");
        assert!(sc > sb);
        assert_eq!(e.leader(), Some((sb, 1)));
        e.close(b);
        assert_eq!(e.leader(), Some((sc, 0)));
    }
}
