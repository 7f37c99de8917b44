//! Looking up a map keyed by a pair of `String`s with two borrowed `&str`s, so the data
//! plane's per-request lookups (a subscription by application and API, an (API,
//! application) counter) build no owned key.
//!
//! ```
//! use std::collections::HashMap;
//! use streamgate::pair_key::PairKey;
//!
//! let mut map = HashMap::new();
//! map.insert(("app".to_string(), "api".to_string()), 1);
//! assert_eq!(map.get(&("app", "api") as &dyn PairKey), Some(&1));
//! assert_eq!(map.get(&("api", "app") as &dyn PairKey), None);
//! ```

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// Two strings, owned or borrowed, that hash and compare as a `(String, String)` does.
pub trait PairKey {
    /// The first string.
    fn first(&self) -> &str;
    /// The second string.
    fn second(&self) -> &str;
}

impl PairKey for (String, String) {
    fn first(&self) -> &str {
        &self.0
    }
    fn second(&self) -> &str {
        &self.1
    }
}

impl PairKey for (&str, &str) {
    fn first(&self) -> &str {
        self.0
    }
    fn second(&self) -> &str {
        self.1
    }
}

impl<'a> Borrow<dyn PairKey + 'a> for (String, String) {
    fn borrow(&self) -> &(dyn PairKey + 'a) {
        self
    }
}

/// As `(String, String)` hashes: each `str` in turn (the `Borrow` contract).
impl Hash for dyn PairKey + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.first().hash(state);
        self.second().hash(state);
    }
}

impl PartialEq for dyn PairKey + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.first() == other.first() && self.second() == other.second()
    }
}

impl Eq for dyn PairKey + '_ {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::hash::BuildHasher;

    #[test]
    fn a_borrowed_pair_hashes_and_finds_as_the_owned_one() {
        let mut map = HashMap::new();
        for (a, b) in [("a", "bc"), ("ab", "c"), ("", "abc"), ("abc", "")] {
            map.insert((a.to_string(), b.to_string()), format!("{a}|{b}"));
        }
        for (a, b) in [("a", "bc"), ("ab", "c"), ("", "abc"), ("abc", "")] {
            let owned = (a.to_string(), b.to_string());
            let hasher = map.hasher();
            assert_eq!(
                hasher.hash_one(&owned),
                hasher.hash_one(&(a, b) as &dyn PairKey),
            );
            assert_eq!(map.get(&(a, b) as &dyn PairKey), Some(&format!("{a}|{b}")));
        }
        assert_eq!(map.get(&("a", "b") as &dyn PairKey), None);
    }
}
