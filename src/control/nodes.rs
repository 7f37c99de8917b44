//! Gateway nodes on the control plane: their credentials (`streamgate node add`, shown
//! once, stored hashed in the store's `gateway-nodes-v1` table) and what connected nodes
//! report in their heartbeats (kept in memory only).

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::catalog::{Millis, RuleError, now_millis};
use crate::keys;
use crate::store::{Op, Store, Table};

use super::{Control, ControlError, Result};

/// The prefix of every node token, so a token found in a file says what it is.
pub const NODE_TOKEN_PREFIX: &str = "sgn_";

/// A node credential as stored: the token's SHA-256 only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The node's name (1 to 64 of `A-Z a-z 0-9 . _ -`).
    pub name: String,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// When it was created (ms since the epoch).
    pub created_at: Millis,
}

/// A node credential just created: the token is shown this once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedNodeToken {
    /// The node's name.
    pub name: String,
    /// The bearer token the node presents to the feed.
    pub token: String,
    /// When it was created (ms since the epoch).
    pub created_at: Millis,
}

/// What a node reports in its heartbeat (`POST /internal/gateway/v1/status`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeReport {
    /// The feed version the node last applied (`None`: nothing yet).
    #[serde(default)]
    pub applied_version: Option<u64>,
    /// Where its gateway listens, e.g. `http://10.0.0.5:8280`.
    #[serde(default)]
    pub address: Option<String>,
    /// Streams open on it.
    #[serde(default)]
    pub open_streams: i64,
}

/// A node as `node list`, the REST resource and the Servers screen show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    /// The node's name.
    pub name: String,
    /// When its credential was created (ms since the epoch).
    pub created_at: Millis,
    /// Its last heartbeat (ms since the epoch), if any since this control plane started.
    pub last_seen: Option<Millis>,
    /// Whether it holds a feed connection now.
    pub connected: bool,
    /// What it last reported.
    #[serde(flatten)]
    pub report: NodeReport,
}

struct Entry {
    record: NodeRecord,
    last_seen: Option<Millis>,
    report: NodeReport,
    feeds: usize,
}

/// The nodes known to this control plane.
pub(super) struct Registry {
    nodes: Mutex<BTreeMap<String, Entry>>,
    /// Bumped when a node is removed, so its feed connections end.
    generation: watch::Sender<u64>,
    /// Bumped when the management API stops, so every feed connection open then ends.
    closings: watch::Sender<u64>,
}

impl Registry {
    pub(super) fn load(store: &Store) -> Result<Registry> {
        let nodes = store
            .load::<NodeRecord>(Table::GatewayNodes)?
            .into_iter()
            .map(|record| {
                (
                    record.name.clone(),
                    Entry {
                        record,
                        last_seen: None,
                        report: NodeReport::default(),
                        feeds: 0,
                    },
                )
            })
            .collect();
        Ok(Registry {
            nodes: Mutex::new(nodes),
            generation: watch::channel(0).0,
            closings: watch::channel(0).0,
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Entry>) -> T) -> Result<T> {
        let mut nodes = self
            .nodes
            .lock()
            .map_err(|_| ControlError::Internal("gateway node registry poisoned".into()))?;
        Ok(f(&mut nodes))
    }
}

/// Holds a node's feed connection open in the registry; dropping it closes it.
pub struct FeedGuard {
    control: Control,
    name: String,
}

impl Drop for FeedGuard {
    fn drop(&mut self) {
        let _ = self.control.inner.nodes.with(|nodes| {
            if let Some(e) = nodes.get_mut(&self.name) {
                e.feeds = e.feeds.saturating_sub(1);
            }
        });
    }
}

fn check_name(name: &str) -> Result<(), RuleError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(RuleError::invalid(
            "name",
            format!("node name '{name}': 1 to 64 of the characters A-Z a-z 0-9 . _ -"),
        ))
    }
}

impl Control {
    /// Creates a node credential. The token is returned this once and stored hashed.
    /// Rule errors: a malformed name (400) or a name in use (409).
    pub async fn add_node(&self, name: &str) -> Result<IssuedNodeToken> {
        let name = name.trim();
        check_name(name)?;
        let _guard = self.inner.write_lock.lock().await;
        if self.inner.nodes.with(|nodes| nodes.contains_key(name))? {
            return Err(RuleError::conflict(409, format!("a node named '{name}' exists")).into());
        }
        let token = format!(
            "{NODE_TOKEN_PREFIX}{}",
            keys::new_consumer_secret().map_err(ControlError::from)?
        );
        let record = NodeRecord {
            name: name.to_string(),
            token_hash: keys::hash_secret(&token),
            created_at: now_millis(),
        };
        let ops = vec![Op::put(Table::GatewayNodes, name, &record)?];
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || store.apply(&ops))
            .await
            .map_err(|e| ControlError::Internal(e.to_string()))??;
        let issued = IssuedNodeToken {
            name: record.name.clone(),
            token,
            created_at: record.created_at,
        };
        self.inner.nodes.with(|nodes| {
            nodes.insert(
                record.name.clone(),
                Entry {
                    record,
                    last_seen: None,
                    report: NodeReport::default(),
                    feeds: 0,
                },
            )
        })?;
        Ok(issued)
    }

    /// Removes a node credential; the node's feed connections end at once and its token
    /// is refused from now on. Not-found when there is no such node.
    pub async fn remove_node(&self, name: &str) -> Result<()> {
        let _guard = self.inner.write_lock.lock().await;
        if !self.inner.nodes.with(|nodes| nodes.contains_key(name))? {
            return Err(ControlError::not_found("gateway node", name));
        }
        let ops = vec![Op::delete(Table::GatewayNodes, name)];
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || store.apply(&ops))
            .await
            .map_err(|e| ControlError::Internal(e.to_string()))??;
        self.inner.nodes.with(|nodes| nodes.remove(name))?;
        self.inner.nodes.generation.send_modify(|g| *g += 1);
        Ok(())
    }

    /// The nodes by name, with what each last reported.
    pub fn nodes(&self) -> Vec<NodeStatus> {
        self.inner
            .nodes
            .with(|nodes| {
                nodes
                    .values()
                    .map(|e| NodeStatus {
                        name: e.record.name.clone(),
                        created_at: e.record.created_at,
                        last_seen: e.last_seen,
                        connected: e.feeds > 0,
                        report: e.report.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The name of the node whose token this is, if any (compared in constant time).
    pub fn authenticate_node(&self, token: &str) -> Option<String> {
        self.inner
            .nodes
            .with(|nodes| {
                nodes
                    .values()
                    .find(|e| keys::secret_matches(token, &e.record.token_hash))
                    .map(|e| e.record.name.clone())
            })
            .ok()
            .flatten()
    }

    /// Records a node's heartbeat. Returns whether the node still exists.
    pub fn report_node(&self, name: &str, report: NodeReport) -> bool {
        self.inner
            .nodes
            .with(|nodes| match nodes.get_mut(name) {
                Some(e) => {
                    e.last_seen = Some(now_millis());
                    e.report = report;
                    true
                }
                None => false,
            })
            .unwrap_or(false)
    }

    /// Marks a feed connection of `name` open until the guard is dropped; `None` when
    /// the node does not exist (any more).
    pub fn node_feed_opened(&self, name: &str) -> Option<FeedGuard> {
        let known = self
            .inner
            .nodes
            .with(|nodes| match nodes.get_mut(name) {
                Some(e) => {
                    e.feeds += 1;
                    e.last_seen = Some(now_millis());
                    true
                }
                None => false,
            })
            .unwrap_or(false);
        known.then(|| FeedGuard {
            control: self.clone(),
            name: name.to_string(),
        })
    }

    /// Whether a node credential named `name` exists.
    pub fn node_exists(&self, name: &str) -> bool {
        self.inner
            .nodes
            .with(|nodes| nodes.contains_key(name))
            .unwrap_or(false)
    }

    /// Notified when a node is removed.
    pub fn watch_nodes(&self) -> watch::Receiver<u64> {
        self.inner.nodes.generation.subscribe()
    }

    /// Ends every feed connection open now (the management API is stopping); feeds
    /// opened later are not affected.
    pub fn close_feeds(&self) {
        self.inner.nodes.closings.send_modify(|n| *n += 1);
    }

    /// Notified by [`close_feeds`](Self::close_feeds); a feed ends when the value moves.
    pub fn watch_feed_closings(&self) -> watch::Receiver<u64> {
        self.inner.nodes.closings.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_are_checked() {
        assert!(check_name("edge-1.eu_west").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a b").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
    }
}
