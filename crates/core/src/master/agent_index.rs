//! Admitted agents by address and by session (issue 20).
//!
//! REGISTER replaces an admitted agent at the same `hostname:port` (Mesos removes the old one),
//! and the end of a session stream names only its connection: both scanned every admitted
//! agent, O(agents) per registration and per closed stream (~0.5 s of G2's set-up at 10,000
//! agents). The index answers both in O(log n). It is kept in step with `Master::agents` by
//! [`Master::put_agent`], [`Master::take_agent`] and [`Master::set_agent_conn`], the only
//! places that add or remove an agent or change its session or address;
//! [`Master::check_invariants`] compares it with a full scan.

use std::collections::{BTreeMap, BTreeSet};

use super::{Agent, Conn, Master};

/// An agent's address as REGISTER compares it: hostname and port (5051 when absent).
type Address = (String, i32);

fn address_of(agent: &Agent) -> Address {
    (agent.info.hostname.clone(), agent.info.port.unwrap_or(5051))
}

/// Agent ids by address and by the connection of their session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentIndex {
    /// Ids of admitted agents by address, in id order (the order of a scan of the agents).
    by_address: BTreeMap<Address, BTreeSet<String>>,
    /// The agent whose session is each connection.
    by_conn: BTreeMap<Conn, String>,
}

impl AgentIndex {
    fn add(&mut self, id: &str, agent: &Agent) {
        self.by_address
            .entry(address_of(agent))
            .or_default()
            .insert(id.to_owned());
        if let Some(conn) = agent.conn {
            self.by_conn.insert(conn, id.to_owned());
        }
    }

    fn forget(&mut self, id: &str, agent: &Agent) {
        let address = address_of(agent);
        if let Some(ids) = self.by_address.get_mut(&address) {
            ids.remove(id);
            if ids.is_empty() {
                self.by_address.remove(&address);
            }
        }
        if let Some(conn) = agent.conn
            && self.by_conn.get(&conn).is_some_and(|owner| owner == id)
        {
            self.by_conn.remove(&conn);
        }
    }

    /// The ids of admitted agents at `hostname:port`, in id order.
    pub fn at_address(&self, hostname: &str, port: i32) -> Vec<String> {
        self.by_address
            .get(&(hostname.to_owned(), port))
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The agent whose session is `conn`.
    pub fn by_conn(&self, conn: Conn) -> Option<&String> {
        self.by_conn.get(&conn)
    }

    /// The index a scan of the agents builds (for the invariant check).
    pub fn scan<'a>(agents: impl Iterator<Item = (&'a String, &'a Agent)>) -> AgentIndex {
        let mut index = AgentIndex::default();
        for (id, agent) in agents {
            index.add(id, agent);
        }
        index
    }
}

impl Master {
    /// Admits `agent` under `id` (replacing any agent of that id), indexed.
    pub(super) fn put_agent(&mut self, id: String, agent: Agent) {
        if let Some(old) = self.agents.get(&id) {
            self.agent_index.forget(&id, old);
        }
        self.agent_index.add(&id, &agent);
        self.agents.insert(id, agent);
    }

    /// Takes an agent out of the admitted agents and the index.
    pub(super) fn take_agent(&mut self, id: &str) -> Option<Agent> {
        let agent = self.agents.remove(id)?;
        self.agent_index.forget(id, &agent);
        Some(agent)
    }

    /// Changes an agent's session and `AgentInfo` (its address may change with it), indexed.
    pub(super) fn set_agent_session(
        &mut self,
        id: &str,
        conn: Option<Conn>,
        info: Option<drover_wire::v1::AgentInfo>,
    ) {
        let Some(agent) = self.agents.get_mut(id) else {
            return;
        };
        self.agent_index.forget(id, agent);
        agent.conn = conn;
        if let Some(info) = info {
            agent.info = info;
        }
        self.agent_index.add(id, agent);
    }

    /// Changes an agent's session, indexed.
    pub(super) fn set_agent_conn(&mut self, id: &str, conn: Option<Conn>) {
        self.set_agent_session(id, conn, None);
    }

    /// The agent index, for checks.
    pub fn agent_index(&self) -> &AgentIndex {
        &self.agent_index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::master::{AgentStatus, PingState};
    use drover_wire::v1;

    fn agent(hostname: &str, port: Option<i32>, conn: Option<u64>) -> Agent {
        Agent {
            info: v1::AgentInfo {
                hostname: hostname.into(),
                port,
                ..Default::default()
            },
            ip: None,
            version: String::new(),
            capabilities: Vec::new(),
            status: AgentStatus::Connected,
            conn: conn.map(Conn),
            stream_id: None,
            registered_time_ms: 0,
            reregistered_time_ms: None,
            reregister_deadline_ms: None,
            ping: PingState::default(),
            executors: BTreeMap::new(),
            pending_kills: BTreeSet::new(),
            answered_kills: BTreeSet::new(),
            removal_pending: false,
            oversubscribed: Vec::new(),
        }
    }

    #[test]
    fn answers_as_a_scan_after_adds_and_removals() {
        let mut agents: BTreeMap<String, Agent> = BTreeMap::new();
        let mut index = AgentIndex::default();
        let mut put = |agents: &mut BTreeMap<String, Agent>, id: &str, a: Agent| {
            if let Some(old) = agents.get(id) {
                index.forget(id, old);
            }
            index.add(id, &a);
            agents.insert(id.into(), a);
            index.clone()
        };
        put(&mut agents, "a2", agent("h1", None, Some(1)));
        put(&mut agents, "a1", agent("h1", Some(5051), Some(2)));
        put(&mut agents, "a3", agent("h1", Some(5052), None));
        // Replacing a record of the same id at the same address and connection.
        let index = put(&mut agents, "a3", agent("h1", Some(5052), Some(3)));
        assert_eq!(index, AgentIndex::scan(agents.iter()));
        assert_eq!(index.at_address("h1", 5051), vec!["a1", "a2"]);
        assert_eq!(index.at_address("h1", 5052), vec!["a3"]);
        assert_eq!(index.at_address("h2", 5051), Vec::<String>::new());
        assert_eq!(index.by_conn(Conn(3)).map(String::as_str), Some("a3"));
        let mut index = index;
        let gone = agents.remove("a2").expect("present");
        index.forget("a2", &gone);
        assert_eq!(index, AgentIndex::scan(agents.iter()));
        assert_eq!(index.at_address("h1", 5051), vec!["a1"]);
        assert_eq!(index.by_conn(Conn(1)), None);
        let gone = agents.remove("a1").expect("present");
        index.forget("a1", &gone);
        assert_eq!(index, AgentIndex::scan(agents.iter()));
        assert!(!index.by_address.contains_key(&("h1".to_owned(), 5051)));
    }
}
