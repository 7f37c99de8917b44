//! The analytics resource (streamgate's own; WSO2 serves analytics from a separate product
//! and these specs have none): `GET /api/am/publisher/v4/analytics/stats?name=&since=`.
//!
//! - `name`: an API as `Name:version` (or its name when only one version exists) or an
//!   application's name; absent, the whole gateway. Unknown: 404.
//! - `since`: how far back, e.g. `90s`, `30m`, `1h` (default), `7d` (at most 7 days); bad: 400.
//!
//! The answer ([`StatsDto`]):
//! ```json
//! {"subject": {"type": "API", "name": "Observer:1.0.0"},
//!  "from": 1764528000000, "to": 1764531600000,
//!  "totals": {"events": 120, "streamsOpened": 2, "rejections": {"900804": 1}, "backendErrors": 0},
//!  "minutes": [{"minute": 1764531540000,
//!               "counts": {"events": 60, "streamsOpened": 1, "rejections": {}, "backendErrors": 0}}],
//!  "top": [{"name": "DefaultApplication", "events": 120}]}
//! ```
//! Times are ms since the epoch; `minutes` lists only minutes with something counted;
//! `top` is the API's applications, the application's APIs or the gateway's APIs by events.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState, PUBLISHER_BASE, Query};
use crate::analytics::{Counts, Subject, parse_since};
use crate::catalog::now_millis;
use crate::control::analytics::StatsReport;

/// The resource's path.
pub const STATS_PATH: &str = "/analytics/stats";

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(&format!("{PUBLISHER_BASE}{STATS_PATH}"), get(stats))
}

#[derive(Debug, Default, Deserialize)]
struct StatsQuery {
    name: Option<String>,
    since: Option<String>,
}

/// What the series is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectDto {
    /// `GATEWAY`, `API` or `APPLICATION`.
    #[serde(rename = "type")]
    pub subject_type: String,
    /// `Name:version` of an API, an application's name, or empty for the gateway.
    pub name: String,
}

/// One minute of the series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinuteDto {
    /// The minute's start, ms since the epoch.
    pub minute: i64,
    /// What was counted in it.
    pub counts: Counts,
}

/// One entry of the top list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopDto {
    /// An application's or an API's name.
    pub name: String,
    /// Events delivered in the range.
    pub events: u64,
}

/// The answer of `GET .../analytics/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsDto {
    /// What it is about.
    pub subject: SubjectDto,
    /// The first minute included, ms since the epoch.
    pub from: i64,
    /// When the answer was made, ms since the epoch.
    pub to: i64,
    /// Sums over the range.
    pub totals: Counts,
    /// The minutes with something counted, oldest first.
    pub minutes: Vec<MinuteDto>,
    /// The top applications (of an API) or APIs (of an application or the gateway).
    pub top: Vec<TopDto>,
}

impl StatsDto {
    /// The DTO of a report.
    pub fn from_report(r: StatsReport) -> StatsDto {
        let (subject_type, name) = match r.subject {
            Subject::Gateway => ("GATEWAY", String::new()),
            Subject::Api(a) => ("API", a),
            Subject::Application(a) => ("APPLICATION", a),
            Subject::Subscription { api, application } => {
                ("SUBSCRIPTION", format!("{application} -> {api}"))
            }
        };
        StatsDto {
            subject: SubjectDto {
                subject_type: subject_type.to_string(),
                name,
            },
            from: r.since,
            to: r.until,
            totals: r.totals,
            minutes: r
                .minutes
                .into_iter()
                .map(|(minute, counts)| MinuteDto { minute, counts })
                .collect(),
            top: r
                .top
                .into_iter()
                .map(|(name, events)| TopDto { name, events })
                .collect(),
        }
    }
}

async fn stats(State(state): State<AppState>, Query(q): Query<StatsQuery>) -> Response {
    match answer(&state, q).await {
        Ok(dto) => axum::Json(dto).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn answer(state: &AppState, q: StatsQuery) -> Result<StatsDto, ApiError> {
    let since_ms = parse_since(q.since.as_deref().unwrap_or("1h"))
        .map_err(|e| ApiError::invalid("since", e))?;
    let subject = state.control.stats_subject(q.name.as_deref())?;
    let now = now_millis();
    let pending = state.telemetry.series().pending();
    let report = state
        .control
        .series_stats(subject, now - since_ms, now, pending)
        .await?;
    Ok(StatsDto::from_report(report))
}
