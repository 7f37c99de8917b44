//! The JSON shapes of WSO2 API Manager 4.x's Publisher v4, Developer Portal v3 and Admin v4
//! APIs (the subset streamgate serves), built from the catalog's types, one module per API.
//! The answers (`*Dto`) have a default for every field, so the CLI reads them with these
//! same types; the request bodies (`*In`) are public and serialisable, so the CLI sends
//! them with these same types too.

mod admin;
mod devportal;
mod oauth;
mod publisher;

pub use admin::*;
pub use devportal::*;
pub use oauth::*;
pub use publisher::*;

use serde::{Deserialize, Serialize};

use crate::catalog::Millis;
/// The `eventCount`/`requestCount` WSO2 writes for an unlimited policy.
pub const UNLIMITED_COUNT: u64 = 2_147_483_647;
/// WSO2's `keyManager` for keys it issues itself.
pub const KEY_MANAGER: &str = "Resident Key Manager";
/// The grant types streamgate's key manager supports.
pub const GRANT_TYPES: [&str; 1] = ["client_credentials"];

/// A time in RFC 3339 (UTC), as revisions and deployments show it.
pub fn rfc3339(ms: Millis) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// WSO2's `Error`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ErrorBody {
    /// The HTTP status or a WSO2 error code such as 900351.
    pub code: i64,
    /// A short summary.
    pub message: String,
    /// What exactly went wrong.
    pub description: String,
    /// A pointer to more information (always empty).
    pub more_info: String,
    /// Per-field errors (unused: `description` names the field).
    pub error: Vec<ErrorItem>,
}

/// WSO2's `ErrorListItem`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorItem {
    /// Its code.
    pub code: String,
    /// Its message.
    pub message: String,
}

/// A list with WSO2's `count` and optional `pagination`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListDto<T> {
    /// How many items are in `list`.
    pub count: usize,
    /// The items.
    pub list: Vec<T>,
    /// Where this page sits, for paged lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

impl<T> ListDto<T> {
    /// A whole, unpaged list.
    pub fn new(list: Vec<T>) -> Self {
        Self {
            count: list.len(),
            list,
            pagination: None,
        }
    }

    /// One page of `all`: at most `limit` items (default [`DEFAULT_LIMIT`], at least 1)
    /// from index `offset` (default 0; past the end gives an empty page), with WSO2's
    /// `pagination` block, whose `next` and `previous` are `path?limit=..&offset=..`
    /// (empty when there is no such page).
    pub fn page(all: Vec<T>, limit: Option<usize>, offset: Option<usize>, path: &str) -> Self {
        let total = all.len();
        let limit = limit.unwrap_or(DEFAULT_LIMIT).max(1);
        let offset = offset.unwrap_or(0);
        let list: Vec<T> = all.into_iter().skip(offset).take(limit).collect();
        let next = if offset.saturating_add(list.len()) < total {
            format!(
                "{path}?limit={limit}&offset={}",
                offset.saturating_add(limit)
            )
        } else {
            String::new()
        };
        let previous = if offset > 0 {
            format!(
                "{path}?limit={limit}&offset={}",
                offset.min(total).saturating_sub(limit)
            )
        } else {
            String::new()
        };
        Self {
            count: list.len(),
            list,
            pagination: Some(Pagination {
                offset,
                limit,
                total,
                next,
                previous,
            }),
        }
    }
}

/// WSO2's default page size of lists (`limit`).
pub const DEFAULT_LIMIT: usize = 25;

/// WSO2's `limit` and `offset` query parameters of a list.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct PageQuery {
    /// Items per page (default [`DEFAULT_LIMIT`]; 0 is refused).
    pub limit: Option<std::num::NonZeroUsize>,
    /// Index of the first item (default 0).
    pub offset: Option<usize>,
}

/// WSO2's `Pagination`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Pagination {
    /// Index of the first item returned.
    pub offset: usize,
    /// Items asked for.
    pub limit: usize,
    /// Items in all.
    pub total: usize,
    /// The next page's query, or empty.
    pub next: String,
    /// The previous page's query, or empty.
    pub previous: String,
}

#[cfg(test)]
mod tests {
    use super::publisher::port_of;
    use super::*;
    use crate::catalog::Quota;

    #[test]
    fn times_and_ports_are_rendered_like_wso2() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(port_of("http://localhost:8280"), 8280);
        assert_eq!(port_of("http://127.0.0.1:9/x"), 9);
        assert_eq!(port_of("http://gw"), 80);
    }

    #[test]
    fn unlimited_plans_use_wso2s_max_count() {
        let dto = ThrottleLimitDto::events(Quota::Unlimited);
        assert_eq!(
            dto.event_count.map(|e| e.event_count),
            Some(UNLIMITED_COUNT)
        );
        let dto = ThrottleLimitDto::requests(Some(10));
        assert_eq!(dto.request_count.map(|r| r.request_count), Some(10));
    }
}
