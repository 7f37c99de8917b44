//! `streamgate stats [API|APP] [--since 1h] [--json]`: the analytics series of an API, an
//! application or the whole gateway, from `GET /api/am/publisher/v4/analytics/stats` (see
//! [`crate::mgmt::analytics`]). An unknown name is the server's 404, so a non-zero exit.

use std::fmt::Write as _;

use reqwest::Method;

use super::{CliError, Client, Output};
use crate::analytics::parse_since;
use crate::mgmt::PUBLISHER_BASE;
use crate::mgmt::analytics::{STATS_PATH, StatsDto};

/// `YYYY-MM-DD HH:MM` (UTC) of ms since the epoch.
fn minute_text(ms: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) {
        Ok(t) => format!("{} {:02}:{:02}", t.date(), t.hour(), t.minute()),
        Err(_) => ms.to_string(),
    }
}

fn rejections_text(r: &std::collections::BTreeMap<u32, u64>) -> String {
    if r.is_empty() {
        return "-".to_string();
    }
    r.iter()
        .map(|(code, n)| format!("{code}x{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `streamgate stats`.
pub(super) async fn stats(
    client: &Client,
    name: Option<&str>,
    since: &str,
) -> Result<Output, CliError> {
    parse_since(since).map_err(CliError::Usage)?;
    let mut query = vec![("since", since)];
    if let Some(name) = name {
        query.push(("name", name));
    }
    let path = format!("{PUBLISHER_BASE}{STATS_PATH}");
    let json = client
        .send(Method::GET, &path, &query, super::NO_BODY)
        .await?;
    let dto: StatsDto = serde_json::from_value(json.clone())
        .map_err(|e| CliError::BadAnswer(format!("{e}: {json}")))?;
    Ok(Output {
        human: human(&dto, since),
        quiet: dto.totals.events.to_string(),
        json,
        warnings: Vec::new(),
    })
}

fn human(dto: &StatsDto, since: &str) -> String {
    let mut out = String::new();
    let what = match dto.subject.subject_type.as_str() {
        "GATEWAY" => "the gateway".to_string(),
        "API" => format!("API {}", dto.subject.name),
        "APPLICATION" => format!("application {}", dto.subject.name),
        other => format!("{other} {}", dto.subject.name),
    };
    let t = &dto.totals;
    let _ = writeln!(
        out,
        "{what}, last {since} (since {} UTC)",
        minute_text(dto.from)
    );
    let _ = writeln!(
        out,
        "events {}  streams opened {}  rejections {}  backend errors {}",
        t.events,
        t.streams_opened,
        t.rejections_total(),
        t.backend_errors
    );
    if !t.rejections.is_empty() {
        let _ = writeln!(
            out,
            "rejections by code: {}",
            rejections_text(&t.rejections)
        );
    }
    if !dto.top.is_empty() {
        let label = if dto.subject.subject_type == "API" {
            "top applications"
        } else {
            "top APIs"
        };
        let top: Vec<String> = dto
            .top
            .iter()
            .map(|e| format!("{} ({})", e.name, e.events))
            .collect();
        let _ = writeln!(out, "{label}: {}", top.join(", "));
    }
    if dto.minutes.is_empty() {
        let _ = writeln!(out, "nothing counted in this range");
        return out;
    }
    let _ = writeln!(
        out,
        "{:<16}  {:>8}  {:>7}  {:>14}  REJECTIONS",
        "MINUTE (UTC)", "EVENTS", "STREAMS", "BACKEND ERRORS"
    );
    for m in &dto.minutes {
        let _ = writeln!(
            out,
            "{:<16}  {:>8}  {:>7}  {:>14}  {}",
            minute_text(m.minute),
            m.counts.events,
            m.counts.streams_opened,
            m.counts.backend_errors,
            rejections_text(&m.counts.rejections)
        );
    }
    out
}
