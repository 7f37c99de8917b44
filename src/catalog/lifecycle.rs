//! The API lifecycle of WSO2 API Manager 4.x: its states and the actions between them.

use serde::{Deserialize, Serialize};

use super::RuleError;

/// Where an API is in its life. Serialised in WSO2's spelling (`PROTOTYPED` is shown as
/// Pre-Released).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LifecycleState {
    /// Designed but invisible in the Developer Portal.
    Created,
    /// Pre-released: callable without a subscription.
    Prototyped,
    /// Visible and subscribable.
    Published,
    /// The gateway answers 503 (700700); hidden from the portal.
    Blocked,
    /// No new subscriptions; existing ones keep working.
    Deprecated,
    /// Removed from the gateway and the portal.
    Retired,
}

/// A lifecycle action, spelled as WSO2's `change-lifecycle?action=` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleAction {
    /// To PUBLISHED.
    Publish,
    /// To PRE-RELEASED.
    DeployAsPrototype,
    /// Back to CREATED.
    DemoteToCreated,
    /// To BLOCKED.
    Block,
    /// From BLOCKED back to PUBLISHED.
    RePublish,
    /// To DEPRECATED.
    Deprecate,
    /// To RETIRED.
    Retire,
}

impl LifecycleState {
    /// Whether an API in this state accepts subscriptions: Published or Pre-Released
    /// (`Prototyped`), as WSO2's Developer Portal allows.
    pub fn accepts_subscriptions(self) -> bool {
        matches!(self, Self::Published | Self::Prototyped)
    }

    /// Every state, in lifecycle order.
    pub const ALL: [LifecycleState; 6] = [
        Self::Created,
        Self::Prototyped,
        Self::Published,
        Self::Blocked,
        Self::Deprecated,
        Self::Retired,
    ];

    /// WSO2's `lifeCycleStatus` value.
    pub fn as_wso2(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Prototyped => "PROTOTYPED",
            Self::Published => "PUBLISHED",
            Self::Blocked => "BLOCKED",
            Self::Deprecated => "DEPRECATED",
            Self::Retired => "RETIRED",
        }
    }

    /// The state as the Publisher shows it to people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Created => "Created",
            Self::Prototyped => "Pre-Released",
            Self::Published => "Published",
            Self::Blocked => "Blocked",
            Self::Deprecated => "Deprecated",
            Self::Retired => "Retired",
        }
    }

    /// Parses WSO2's spelling (also `PRE-RELEASED`), case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        let upper = s.trim().to_ascii_uppercase();
        match upper.as_str() {
            "PRE-RELEASED" | "PRERELEASED" => Some(Self::Prototyped),
            _ => Self::ALL.into_iter().find(|st| st.as_wso2() == upper),
        }
    }

    /// The actions allowed from this state, in the order the Publisher offers them.
    pub fn allowed_actions(self) -> &'static [LifecycleAction] {
        use LifecycleAction::*;
        match self {
            Self::Created => &[Publish, DeployAsPrototype],
            Self::Prototyped => &[Publish, DemoteToCreated],
            Self::Published => &[Block, DeployAsPrototype, DemoteToCreated, Deprecate],
            Self::Blocked => &[Deprecate, RePublish],
            Self::Deprecated => &[Retire],
            Self::Retired => &[],
        }
    }

    /// Applies `action`, or says which actions this state allows instead.
    pub fn apply(self, action: LifecycleAction) -> Result<LifecycleState, RuleError> {
        if !self.allowed_actions().contains(&action) {
            let allowed: Vec<&str> = self.allowed_actions().iter().map(|a| a.as_str()).collect();
            let allowed = if allowed.is_empty() {
                "none".to_string()
            } else {
                allowed.join(", ")
            };
            return Err(RuleError::conflict(
                900347,
                format!(
                    "'{}' is not allowed for an API in state {}; allowed actions: {allowed}",
                    action.as_str(),
                    self.as_wso2()
                ),
            ));
        }
        Ok(action.target())
    }

    /// Whether subscribers may call the API through the gateway in this state.
    pub fn serves_subscribers(self) -> bool {
        matches!(self, Self::Published | Self::Deprecated)
    }

    /// Whether the Developer Portal lists the API in this state.
    pub fn visible_in_portal(self) -> bool {
        matches!(self, Self::Published | Self::Prototyped | Self::Deprecated)
    }
}

impl std::fmt::Display for LifecycleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_wso2())
    }
}

impl LifecycleAction {
    /// Every action.
    pub const ALL: [LifecycleAction; 7] = [
        Self::Publish,
        Self::DeployAsPrototype,
        Self::DemoteToCreated,
        Self::Block,
        Self::RePublish,
        Self::Deprecate,
        Self::Retire,
    ];

    /// WSO2's spelling of the action.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Publish => "Publish",
            Self::DeployAsPrototype => "Deploy as a Prototype",
            Self::DemoteToCreated => "Demote to Created",
            Self::Block => "Block",
            Self::RePublish => "Re-Publish",
            Self::Deprecate => "Deprecate",
            Self::Retire => "Retire",
        }
    }

    /// Parses WSO2's spelling, ignoring case, spaces, dashes and underscores.
    pub fn parse(s: &str) -> Result<Self, RuleError> {
        let norm = |x: &str| {
            x.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase()
        };
        let wanted = norm(s);
        Self::ALL
            .into_iter()
            .find(|a| norm(a.as_str()) == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|a| a.as_str()).collect();
                RuleError::invalid(
                    "action",
                    format!(
                        "unknown lifecycle action '{s}'; expected one of: {}",
                        names.join(", ")
                    ),
                )
            })
    }

    /// The state this action leads to.
    pub fn target(self) -> LifecycleState {
        match self {
            Self::Publish | Self::RePublish => LifecycleState::Published,
            Self::DeployAsPrototype => LifecycleState::Prototyped,
            Self::DemoteToCreated => LifecycleState::Created,
            Self::Block => LifecycleState::Blocked,
            Self::Deprecate => LifecycleState::Deprecated,
            Self::Retire => LifecycleState::Retired,
        }
    }
}

impl std::fmt::Display for LifecycleAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::LifecycleAction::*;
    use super::LifecycleState::*;
    use super::*;

    /// The whole table of REFERENCE.md: (from, action, to).
    const ALLOWED: &[(LifecycleState, LifecycleAction, LifecycleState)] = &[
        (Created, Publish, Published),
        (Created, DeployAsPrototype, Prototyped),
        (Prototyped, Publish, Published),
        (Prototyped, DemoteToCreated, Created),
        (Published, Block, Blocked),
        (Published, DeployAsPrototype, Prototyped),
        (Published, DemoteToCreated, Created),
        (Published, Deprecate, Deprecated),
        (Blocked, Deprecate, Deprecated),
        (Blocked, RePublish, Published),
        (Deprecated, Retire, Retired),
    ];

    #[test]
    fn every_allowed_transition_reaches_its_state() {
        for (from, action, to) in ALLOWED {
            assert_eq!(from.apply(*action), Ok(*to), "{from} --{action}-->");
        }
    }

    #[test]
    fn every_other_transition_is_refused_listing_the_allowed_actions() {
        for from in LifecycleState::ALL {
            for action in LifecycleAction::ALL {
                if ALLOWED.iter().any(|(f, a, _)| *f == from && *a == action) {
                    continue;
                }
                let err = from.apply(action).expect_err("must be refused");
                let RuleError::Conflict { message, .. } = err else {
                    panic!("expected a conflict");
                };
                for allowed in from.allowed_actions() {
                    assert!(message.contains(allowed.as_str()), "{message}");
                }
                if from == Retired {
                    assert!(message.contains("allowed actions: none"), "{message}");
                }
            }
        }
    }

    #[test]
    fn actions_parse_in_wso2_spelling_and_loosely() {
        assert_eq!(
            LifecycleAction::parse("Deploy as a Prototype"),
            Ok(DeployAsPrototype)
        );
        assert_eq!(LifecycleAction::parse("re-publish"), Ok(RePublish));
        assert_eq!(
            LifecycleAction::parse("DEMOTE_TO_CREATED"),
            Ok(DemoteToCreated)
        );
        let err = LifecycleAction::parse("Launch").expect_err("unknown");
        assert!(
            err.to_string()
                .contains("unknown lifecycle action 'Launch'")
        );
    }

    #[test]
    fn states_parse_and_serialise_in_wso2_spelling() {
        assert_eq!(LifecycleState::parse("PRE-RELEASED"), Some(Prototyped));
        assert_eq!(LifecycleState::parse("published"), Some(Published));
        assert_eq!(LifecycleState::parse("LIVE"), None);
        assert_eq!(
            serde_json::to_string(&Prototyped).expect("json"),
            "\"PROTOTYPED\""
        );
        assert_eq!(Prototyped.label(), "Pre-Released");
    }

    #[test]
    fn only_published_and_deprecated_serve_subscribers() {
        let serving: Vec<_> = LifecycleState::ALL
            .into_iter()
            .filter(|s| s.serves_subscribers())
            .collect();
        assert_eq!(serving, vec![Published, Deprecated]);
        let visible: Vec<_> = LifecycleState::ALL
            .into_iter()
            .filter(|s| s.visible_in_portal())
            .collect();
        assert_eq!(visible, vec![Prototyped, Published, Deprecated]);
    }
}
