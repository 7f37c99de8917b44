//! Business plans: subscription policies that count delivered SSE events, and application
//! policies that limit connection requests per minute.

use serde::{Deserialize, Serialize};

use super::RuleError;

/// The unit of a quota window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Minutes.
    Min,
    /// Hours.
    Hour,
    /// Days.
    Day,
    /// Months, counted as 30 days.
    Month,
}

impl TimeUnit {
    /// Milliseconds in one unit.
    pub fn millis(self) -> i64 {
        const MIN: i64 = 60_000;
        match self {
            Self::Min => MIN,
            Self::Hour => 60 * MIN,
            Self::Day => 24 * 60 * MIN,
            Self::Month => 30 * 24 * 60 * MIN,
        }
    }

    /// WSO2's spelling (`min`, `hour`, `day`, `month`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Min => "min",
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Month => "month",
        }
    }

    /// Parses WSO2's spelling; also accepts plurals and `minute`.
    pub fn parse(s: &str) -> Result<Self, RuleError> {
        match s.trim().to_ascii_lowercase().trim_end_matches('s') {
            "min" | "minute" => Ok(Self::Min),
            "hour" => Ok(Self::Hour),
            "day" => Ok(Self::Day),
            "month" => Ok(Self::Month),
            _ => Err(RuleError::invalid(
                "timeUnit",
                format!("unknown time unit '{s}'; expected min, hour, day or month"),
            )),
        }
    }
}

/// How many events a subscription may receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Quota {
    /// No limit.
    Unlimited,
    /// `count` events per `unit_time` `unit`s.
    Events {
        /// Events allowed in one window.
        count: u64,
        /// The window's unit.
        unit: TimeUnit,
        /// How many units one window spans.
        unit_time: u32,
    },
}

impl Quota {
    /// The window length in milliseconds, or `None` when unlimited.
    pub fn window_millis(self) -> Option<i64> {
        match self {
            Self::Unlimited => None,
            Self::Events {
                unit, unit_time, ..
            } => Some(unit.millis() * i64::from(unit_time.max(1))),
        }
    }

    /// Events allowed in one window, or `None` when unlimited.
    pub fn limit(self) -> Option<u64> {
        match self {
            Self::Unlimited => None,
            Self::Events { count, .. } => Some(count),
        }
    }

    /// A short description for lists: `50000 events / 1 day`.
    pub fn describe(self) -> String {
        match self {
            Self::Unlimited => "unlimited".to_string(),
            Self::Events {
                count,
                unit,
                unit_time,
            } => format!("{count} events / {unit_time} {}", unit.as_str()),
        }
    }
}

/// A subscription policy ("business plan") for streaming APIs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionPolicy {
    /// The plan's name, e.g. `AsyncGold`.
    pub name: String,
    /// The name shown to people.
    pub display_name: String,
    /// What the plan is for.
    pub description: String,
    /// The event quota; delivery stops on reaching it (`stopOnQuotaReach`).
    pub quota: Quota,
    /// Built in, so neither editable nor deletable.
    pub built_in: bool,
}

/// An application policy: how many connection requests an application may make per minute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationPolicy {
    /// The policy's name, e.g. `10PerMin`.
    pub name: String,
    /// The name shown to people.
    pub display_name: String,
    /// What the policy allows.
    pub description: String,
    /// Requests per minute, or `None` when unlimited.
    pub requests_per_minute: Option<u32>,
    /// Built in, so neither editable nor deletable.
    pub built_in: bool,
}

fn events_per_day(name: &str, count: u64) -> SubscriptionPolicy {
    SubscriptionPolicy {
        name: name.to_string(),
        display_name: name.to_string(),
        description: format!("Allows {count} events per day"),
        quota: Quota::Events {
            count,
            unit: TimeUnit::Day,
            unit_time: 1,
        },
        built_in: true,
    }
}

/// The built-in streaming subscription plans of WSO2 API Manager 4.x.
pub fn builtin_subscription_policies() -> Vec<SubscriptionPolicy> {
    vec![
        events_per_day("AsyncBronze", 5000),
        events_per_day("AsyncSilver", 25000),
        events_per_day("AsyncGold", 50000),
        SubscriptionPolicy {
            name: "AsyncUnlimited".to_string(),
            display_name: "AsyncUnlimited".to_string(),
            description: "Allows unlimited events".to_string(),
            quota: Quota::Unlimited,
            built_in: true,
        },
    ]
}

/// The built-in application policies of WSO2 API Manager 4.x.
pub fn builtin_application_policies() -> Vec<ApplicationPolicy> {
    let per_min = |n: u32| ApplicationPolicy {
        name: format!("{n}PerMin"),
        display_name: format!("{n}PerMin"),
        description: format!("Allows {n} connection requests per minute"),
        requests_per_minute: Some(n),
        built_in: true,
    };
    vec![
        per_min(10),
        per_min(20),
        per_min(50),
        ApplicationPolicy {
            name: "Unlimited".to_string(),
            display_name: "Unlimited".to_string(),
            description: "Allows unlimited requests".to_string(),
            requests_per_minute: None,
            built_in: true,
        },
    ]
}

fn validate_policy_name(name: &str) -> Result<(), RuleError> {
    if name.trim().is_empty() {
        return Err(RuleError::invalid(
            "policyName",
            "the plan name must not be empty",
        ));
    }
    if name.len() > 60 {
        return Err(RuleError::invalid(
            "policyName",
            "the plan name must be at most 60 characters",
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(RuleError::invalid(
            "policyName",
            format!("'{name}' may only contain ASCII letters and digits, '_' and '-'"),
        ));
    }
    Ok(())
}

/// Checks a new custom subscription plan against the known ones.
pub fn validate_subscription_policy(
    policy: &SubscriptionPolicy,
    existing: &[SubscriptionPolicy],
) -> Result<(), RuleError> {
    validate_policy_name(&policy.name)?;
    if let Quota::Events {
        count, unit_time, ..
    } = policy.quota
    {
        if count == 0 {
            return Err(RuleError::invalid(
                "eventCount",
                "the event count must be at least 1",
            ));
        }
        if unit_time == 0 {
            return Err(RuleError::invalid(
                "unitTime",
                "the unit time must be at least 1",
            ));
        }
    }
    if existing
        .iter()
        .any(|p| p.name.eq_ignore_ascii_case(&policy.name))
    {
        return Err(RuleError::conflict(
            900967,
            format!("a subscription plan named '{}' already exists", policy.name),
        ));
    }
    Ok(())
}

/// Checks a new custom application policy against the known ones.
pub fn validate_application_policy(
    policy: &ApplicationPolicy,
    existing: &[ApplicationPolicy],
) -> Result<(), RuleError> {
    validate_policy_name(&policy.name)?;
    if policy.requests_per_minute == Some(0) {
        return Err(RuleError::invalid(
            "requestCount",
            "the request count must be at least 1",
        ));
    }
    if existing
        .iter()
        .any(|p| p.name.eq_ignore_ascii_case(&policy.name))
    {
        return Err(RuleError::conflict(
            900967,
            format!(
                "an application policy named '{}' already exists",
                policy.name
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_plans_have_the_reference_quotas() {
        let plans = builtin_subscription_policies();
        let find = |n: &str| plans.iter().find(|p| p.name == n).map(|p| p.quota);
        assert_eq!(find("AsyncBronze").and_then(Quota::limit), Some(5000));
        assert_eq!(find("AsyncSilver").and_then(Quota::limit), Some(25000));
        assert_eq!(find("AsyncGold").and_then(Quota::limit), Some(50000));
        assert_eq!(find("AsyncUnlimited"), Some(Quota::Unlimited));
        assert_eq!(
            find("AsyncGold").and_then(Quota::window_millis),
            Some(86_400_000)
        );
        let apps: Vec<_> = builtin_application_policies()
            .into_iter()
            .map(|p| (p.name, p.requests_per_minute))
            .collect();
        assert_eq!(
            apps,
            vec![
                ("10PerMin".to_string(), Some(10)),
                ("20PerMin".to_string(), Some(20)),
                ("50PerMin".to_string(), Some(50)),
                ("Unlimited".to_string(), None)
            ]
        );
    }

    fn custom(name: &str, count: u64, unit_time: u32) -> SubscriptionPolicy {
        SubscriptionPolicy {
            name: name.to_string(),
            display_name: name.to_string(),
            description: String::new(),
            quota: Quota::Events {
                count,
                unit: TimeUnit::Min,
                unit_time,
            },
            built_in: false,
        }
    }

    #[test]
    fn custom_plans_are_checked_field_by_field() {
        let existing = builtin_subscription_policies();
        assert_eq!(
            validate_subscription_policy(&custom("Ten", 10, 1), &existing),
            Ok(())
        );
        let cases = [
            (custom("", 10, 1), "policyName"),
            (custom("has space", 10, 1), "policyName"),
            (custom("Zero", 0, 1), "eventCount"),
            (custom("NoTime", 10, 0), "unitTime"),
        ];
        for (policy, field) in cases {
            match validate_subscription_policy(&policy, &existing) {
                Err(RuleError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{policy:?}: {other:?}"),
            }
        }
        let dup = validate_subscription_policy(&custom("asyncgold", 1, 1), &existing);
        assert!(matches!(dup, Err(RuleError::Conflict { .. })), "{dup:?}");
    }

    #[test]
    fn application_policies_refuse_zero_and_duplicates() {
        let existing = builtin_application_policies();
        let mut p = existing[0].clone();
        p.name = "5PerMin".into();
        p.requests_per_minute = Some(0);
        assert!(matches!(
            validate_application_policy(&p, &existing),
            Err(RuleError::Invalid {
                field: "requestCount",
                ..
            })
        ));
        p.requests_per_minute = Some(5);
        assert_eq!(validate_application_policy(&p, &existing), Ok(()));
        p.name = "10permin".into();
        assert!(matches!(
            validate_application_policy(&p, &existing),
            Err(RuleError::Conflict { .. })
        ));
    }

    #[test]
    fn time_units_parse_loosely_and_measure_windows() {
        assert_eq!(TimeUnit::parse("minutes"), Ok(TimeUnit::Min));
        assert_eq!(TimeUnit::parse("Hour"), Ok(TimeUnit::Hour));
        assert!(TimeUnit::parse("week").is_err());
        let q = Quota::Events {
            count: 10,
            unit: TimeUnit::Hour,
            unit_time: 2,
        };
        assert_eq!(q.window_millis(), Some(7_200_000));
        assert_eq!(q.describe(), "10 events / 2 hour");
    }
}
