//! The hash maps of the gateway's per-request lookups (routes, subscriptions, applications,
//! revoked token ids, verified tokens, quota windows, per-pair counters), hashed with
//! foldhash (hashbrown's default hash) instead of std's SipHash-1-3: a stream open hashes
//! about a dozen keys, one of them a whole access token, and SipHash was about 7% of its
//! instructions (`valgrind --tool=callgrind` over the connection-rate workload).
//!
//! Each map is seeded at random. Their keys are never chosen by an unauthenticated client:
//! routes, subscriptions and applications come from the catalog, a token is remembered
//! only after its signature checked out, and a request's own values are only looked up.
//!
//! ```
//! use streamgate::fast_map::FastHashMap;
//!
//! let mut routes: FastHashMap<String, u32> = FastHashMap::default();
//! routes.insert("/observer/1.0.0".to_string(), 1);
//! assert_eq!(routes.get("/observer/1.0.0"), Some(&1));
//! ```

/// A `HashMap` hashed with foldhash, randomly seeded (create with `default()`).
pub type FastHashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A `HashSet` hashed with foldhash, randomly seeded (create with `default()`).
pub type FastHashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
