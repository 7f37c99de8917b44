//! Quota counters: the gateway's per-window event counts, persisted so a restart keeps
//! the quota where it was. Written straight to the store, outside `write()`: they change
//! neither the snapshot nor the gateway's view.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::catalog::Millis;
use crate::store::{Op, Table};

use super::{Control, ControlError, Result};

/// A quota window counter as persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterRecord {
    /// Start of the current window (ms since epoch).
    pub window_start: Millis,
    /// Events delivered in the window.
    pub count: u64,
}

impl Control {
    /// Persists quota counters in one transaction.
    pub async fn save_counters(&self, counters: Vec<(String, CounterRecord)>) -> Result<()> {
        let ops = counters
            .iter()
            .map(|(id, rec)| Op::put(Table::QuotaCounters, id, rec))
            .collect::<Result<Vec<_>, _>>()?;
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || store.apply(&ops))
            .await
            .map_err(|e| ControlError::Internal(e.to_string()))??;
        Ok(())
    }

    /// Deletes the persisted quota counters of `subscription_ids` (deleted subscriptions).
    pub async fn delete_counters(&self, subscription_ids: Vec<String>) -> Result<()> {
        let ops: Vec<Op> = subscription_ids
            .iter()
            .map(|id| Op::delete(Table::QuotaCounters, id.as_str()))
            .collect();
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || store.apply(&ops))
            .await
            .map_err(|e| ControlError::Internal(e.to_string()))??;
        Ok(())
    }

    /// Loads the persisted quota counters.
    pub fn load_counters(&self) -> Result<HashMap<String, CounterRecord>> {
        Ok(self
            .inner
            .store
            .scan(Table::QuotaCounters)?
            .into_iter()
            .filter_map(|(k, v)| Some((k, serde_json::from_slice(&v).ok()?)))
            .collect())
    }
}
