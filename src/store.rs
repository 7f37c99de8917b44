//! The durable store: one redb file in the data dir, JSON values in versioned tables.
//! Every write is one transaction, committed durably before it is acknowledged.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

pub mod series;

/// The file name of the database inside the data dir.
pub const DB_FILE: &str = "streamgate.redb";

/// The schema version this build writes; recorded in the `meta` table.
pub const SCHEMA_VERSION: u32 = 1;

const META: TableDefinition<&str, &str> = TableDefinition::new("meta-v1");

/// The tables of the catalog. Keys are strings, values JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// APIs by id.
    Apis,
    /// Revisions by id.
    Revisions,
    /// Deployments by `api_id/environment`.
    Deployments,
    /// Custom subscription plans by name.
    SubscriptionPolicies,
    /// Custom application policies by name.
    ApplicationPolicies,
    /// Applications by id.
    Applications,
    /// Subscriptions by id.
    Subscriptions,
    /// Key pairs by consumer key.
    KeyPairs,
    /// Revoked token ids (`jti`) with their expiry.
    RevokedTokens,
    /// Quota counters by subscription id.
    QuotaCounters,
    /// Endpoint certificates by alias ([`crate::tls::store::EndpointCertificate`]).
    EndpointCertificates,
    /// Backend client certificates by API id
    /// ([`crate::tls::store::BackendClientCertificate`]).
    BackendClientCertificates,
    /// Management users by id.
    Users,
    /// Gateway node credentials by node name (control plane; token stored hashed).
    GatewayNodes,
    /// A gateway node's last applied configuration feed snapshot (key `state`).
    Replica,
}

impl Table {
    /// Every table, created on first open.
    pub const ALL: [Table; 15] = [
        Self::Apis,
        Self::Revisions,
        Self::Deployments,
        Self::SubscriptionPolicies,
        Self::ApplicationPolicies,
        Self::Applications,
        Self::Subscriptions,
        Self::KeyPairs,
        Self::RevokedTokens,
        Self::QuotaCounters,
        Self::EndpointCertificates,
        Self::BackendClientCertificates,
        Self::Users,
        Self::GatewayNodes,
        Self::Replica,
    ];

    const fn definition(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(match self {
            Self::Apis => "apis-v1",
            Self::Revisions => "revisions-v1",
            Self::Deployments => "deployments-v1",
            Self::SubscriptionPolicies => "subscription-policies-v1",
            Self::ApplicationPolicies => "application-policies-v1",
            Self::Applications => "applications-v1",
            Self::Subscriptions => "subscriptions-v1",
            Self::KeyPairs => "key-pairs-v1",
            Self::RevokedTokens => "revoked-tokens-v1",
            Self::QuotaCounters => "quota-counters-v1",
            Self::EndpointCertificates => "endpoint-certificates-v1",
            Self::BackendClientCertificates => "backend-client-certificates-v1",
            Self::Users => "users-v1",
            Self::GatewayNodes => "gateway-nodes-v1",
            Self::Replica => "replica-v1",
        })
    }
}

/// One change inside a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Insert or replace `key` with `value`.
    Put {
        /// The table.
        table: Table,
        /// The key.
        key: String,
        /// The JSON value.
        value: Vec<u8>,
    },
    /// Remove `key` (no error when absent).
    Delete {
        /// The table.
        table: Table,
        /// The key.
        key: String,
    },
}

impl Op {
    /// A put of `value` serialised as JSON.
    pub fn put<T: serde::Serialize>(
        table: Table,
        key: impl Into<String>,
        value: &T,
    ) -> Result<Op, StoreError> {
        Ok(Op::Put {
            table,
            key: key.into(),
            value: serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        })
    }

    /// A delete.
    pub fn delete(table: Table, key: impl Into<String>) -> Op {
        Op::Delete {
            table,
            key: key.into(),
        }
    }
}

/// What can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the data dir.
    #[error(
        "the data dir {0} is in use by another streamgate process; stop it or choose another --data-dir"
    )]
    InUse(PathBuf),
    /// The data dir could not be created or read.
    #[error("cannot use data dir {path}: {source}")]
    DataDir {
        /// The data dir.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was written by a newer streamgate.
    #[error(
        "{path} has schema version {found}, newer than this build's {SCHEMA_VERSION}; upgrade streamgate"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// The version recorded in it.
        found: u32,
    },
    /// A value did not decode.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// redb failed.
    #[error("database error: {0}")]
    Db(String),
}

fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

/// The store. Cheap to clone; calls block, so async code runs them via `spawn_blocking`.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (or creates) the database in `data_dir`, creating every table.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        // What this start creates is made owner-only without a word; only what an earlier
        // start (or someone else) left open is reported.
        let dir_existed = data_dir.exists();
        let db_existed = data_dir.join(DB_FILE).exists();
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(DB_FILE);
        let db = match Database::create(&path) {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(StoreError::InUse(data_dir.to_path_buf()));
            }
            Err(e) => return Err(db_err(format!("{}: {e}", path.display()))),
        };
        match crate::datadir::tighten(data_dir) {
            Ok(changed) => {
                let created = |p: &Path| {
                    (p == data_dir && !dir_existed) || (p == path.as_path() && !db_existed)
                };
                for p in changed.into_iter().filter(|p| !created(p)) {
                    tracing::warn!(path = %p.display(), "tightened mode to owner-only (dir 0700, file 0600)");
                }
            }
            Err(source) => {
                return Err(StoreError::DataDir {
                    path: data_dir.to_path_buf(),
                    source,
                });
            }
        }
        let store = Store {
            db: Arc::new(db),
            path,
        };
        store.init()?;
        Ok(store)
    }

    /// A write transaction that records redb's allocator state with its commit ("quick
    /// repair"), so a process killed at any moment leaves a file that opens at once,
    /// without the full repair redb otherwise runs after an unclean shutdown.
    fn begin_write(&self) -> Result<redb::WriteTransaction, StoreError> {
        let mut txn = self.db.begin_write().map_err(db_err)?;
        txn.set_quick_repair(true);
        Ok(txn)
    }

    fn init(&self) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        {
            let mut meta = txn.open_table(META).map_err(db_err)?;
            let found = meta
                .get("schema_version")
                .map_err(db_err)?
                .map(|v| v.value().parse::<u32>().unwrap_or(0));
            match found {
                Some(v) if v > SCHEMA_VERSION => {
                    return Err(StoreError::TooNew {
                        path: self.path.clone(),
                        found: v,
                    });
                }
                Some(_) => {}
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION.to_string().as_str())
                        .map_err(db_err)?;
                }
            }
            for table in Table::ALL {
                txn.open_table(table.definition()).map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version recorded in the file.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let meta = txn.open_table(META).map_err(db_err)?;
        let v = meta.get("schema_version").map_err(db_err)?;
        v.and_then(|v| v.value().parse().ok())
            .ok_or_else(|| StoreError::Corrupt("no schema version".into()))
    }

    /// Applies `ops` in one durable transaction: all or nothing.
    pub fn apply(&self, ops: &[Op]) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let txn = self.begin_write()?;
        for op in ops {
            match op {
                Op::Put { table, key, value } => {
                    let mut t = txn.open_table(table.definition()).map_err(db_err)?;
                    t.insert(key.as_str(), value.as_slice()).map_err(db_err)?;
                }
                Op::Delete { table, key } => {
                    let mut t = txn.open_table(table.definition()).map_err(db_err)?;
                    t.remove(key.as_str()).map_err(db_err)?;
                }
            }
        }
        txn.commit().map_err(db_err)
    }

    /// Every (key, raw value) of a table, in key order.
    pub fn scan(&self, table: Table) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let t = txn.open_table(table.definition()).map_err(db_err)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            out.push((k.value().to_string(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Every value of a table, decoded from JSON.
    pub fn load<T: serde::de::DeserializeOwned>(&self, table: Table) -> Result<Vec<T>, StoreError> {
        self.scan(table)?
            .into_iter()
            .map(|(k, v)| {
                serde_json::from_slice(&v)
                    .map_err(|e| StoreError::Corrupt(format!("{table:?}/{k}: {e}")))
            })
            .collect()
    }

    /// One value, decoded from JSON.
    pub fn get<T: serde::de::DeserializeOwned>(
        &self,
        table: Table,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let t = txn.open_table(table.definition()).map_err(db_err)?;
        let Some(v) = t.get(key).map_err(db_err)? else {
            return Ok(None);
        };
        serde_json::from_slice(v.value())
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("{table:?}/{key}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn writes_survive_a_reopen_and_deletes_stick() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .apply(&[
                    Op::put(Table::Apis, "a", &"first").unwrap(),
                    Op::put(Table::Apis, "b", &"second").unwrap(),
                ])
                .unwrap();
            store.apply(&[Op::delete(Table::Apis, "a")]).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let all: Vec<String> = store.load(Table::Apis).unwrap();
        assert_eq!(all, vec!["second"]);
        assert_eq!(
            store.get::<String>(Table::Apis, "b").unwrap().as_deref(),
            Some("second")
        );
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn a_second_open_of_the_same_data_dir_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::InUse(_)), "{err}");
        assert!(err.to_string().contains(&dir.path().display().to_string()));
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let txn = store.db.begin_write().unwrap();
            txn.open_table(META)
                .unwrap()
                .insert("schema_version", "99")
                .unwrap();
            txn.commit().unwrap();
        }
        let err = Store::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("schema version 99"), "{err}");
    }

    #[test]
    fn corrupt_values_are_reported_with_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .apply(&[Op::Put {
                table: Table::Apis,
                key: "bad".into(),
                value: b"{not json".to_vec(),
            }])
            .unwrap();
        let err = store.load::<String>(Table::Apis).unwrap_err();
        assert!(err.to_string().contains("Apis/bad"), "{err}");
    }
}
