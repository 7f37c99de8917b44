//! The analytics series table (`series-v1`): per-minute counters per subject (an API, an
//! application or a subscription), keyed `{minute_ms:013}|{subject}` so that key order is
//! time order and retention is a range delete. Values are JSON [`Counts`].
//!
//! The table is bounded two ways, both applied by every [`Store::merge_series`]: rows older
//! than the retention are deleted, and then the oldest rows beyond a row bound are deleted.

use std::collections::BTreeMap;

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, db_err};

const SERIES: TableDefinition<&str, &[u8]> = TableDefinition::new("series-v1");

/// What happened in one minute for one subject.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// SSE events delivered to clients.
    #[serde(default)]
    pub events: u64,
    /// Streams opened.
    #[serde(default)]
    pub streams_opened: u64,
    /// Requests refused, by WSO2-style error code (or the backend's HTTP status).
    #[serde(default)]
    pub rejections: BTreeMap<u32, u64>,
    /// Failures connecting to or reading from the backend.
    #[serde(default)]
    pub backend_errors: u64,
}

impl Counts {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &Counts) {
        self.events += other.events;
        self.streams_opened += other.streams_opened;
        for (code, n) in &other.rejections {
            *self.rejections.entry(*code).or_insert(0) += n;
        }
        self.backend_errors += other.backend_errors;
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.events == 0
            && self.streams_opened == 0
            && self.rejections.values().all(|n| *n == 0)
            && self.backend_errors == 0
    }

    /// Rejections of every code.
    pub fn rejections_total(&self) -> u64 {
        self.rejections.values().sum()
    }
}

/// How the series table is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesBounds {
    /// Rows of a minute older than `now - retention_ms` are deleted (ms).
    pub retention_ms: i64,
    /// At most this many rows are kept; the oldest go first.
    pub max_rows: u64,
}

fn key(minute_ms: i64, subject: &str) -> String {
    format!("{:013}|{subject}", minute_ms.max(0))
}

fn split_key(key: &str) -> Option<(i64, &str)> {
    let (minute, subject) = key.split_once('|')?;
    Some((minute.parse().ok()?, subject))
}

fn decode(key: &str, bytes: &[u8]) -> Result<Counts, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("series/{key}: {e}")))
}

impl Store {
    /// Adds `rows` (minute start in ms since the epoch, subject, counts) to what is stored
    /// for the same minute and subject, then prunes to `bounds` as of `now_ms`; one durable
    /// transaction. Blocking.
    pub fn merge_series(
        &self,
        rows: &[(i64, String, Counts)],
        now_ms: i64,
        bounds: SeriesBounds,
    ) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        {
            let mut t = txn.open_table(SERIES).map_err(db_err)?;
            for (minute, subject, counts) in rows {
                let k = key(*minute, subject);
                let mut merged = match t.get(k.as_str()).map_err(db_err)? {
                    Some(v) => decode(&k, v.value())?,
                    None => Counts::default(),
                };
                merged.add(counts);
                let bytes =
                    serde_json::to_vec(&merged).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                t.insert(k.as_str(), bytes.as_slice()).map_err(db_err)?;
            }
            let cutoff = format!("{:013}", (now_ms - bounds.retention_ms).max(0));
            t.retain_in(..cutoff.as_str(), |_, _| false)
                .map_err(db_err)?;
            let mut len = t.len().map_err(db_err)?;
            while len > bounds.max_rows {
                if t.pop_first().map_err(db_err)?.is_none() {
                    break;
                }
                len -= 1;
            }
        }
        txn.commit().map_err(db_err)
    }

    /// Every stored minute since `since_ms` (inclusive) whose subject satisfies `keep`, in
    /// time order: (minute start in ms, subject, counts).
    pub fn series_since(
        &self,
        since_ms: i64,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Vec<(i64, String, Counts)>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let t = match txn.open_table(SERIES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db_err(e)),
        };
        let start = format!("{:013}", since_ms.max(0));
        let mut out = Vec::new();
        for row in t.range(start.as_str()..).map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            let k = k.value();
            let Some((minute, subject)) = split_key(k) else {
                return Err(StoreError::Corrupt(format!("series key {k}")));
            };
            if keep(subject) {
                out.push((minute, subject.to_string(), decode(k, v.value())?));
            }
        }
        Ok(out)
    }

    /// How many rows the series table holds.
    pub fn series_rows(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        match txn.open_table(SERIES) {
            Ok(t) => t.len().map_err(db_err),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
            Err(e) => Err(db_err(e)),
        }
    }
}
