//! The screens, one per file: each has its state, the letter keys it understands, its part
//! of `update` and its `draw`. The four tabs ([`publisher::Publisher`], [`portal::Portal`],
//! [`servers::Servers`], [`tutorial::Tutorial`]) and the live pane ([`live::LivePane`])
//! implement [`crate::tui::screen::Screen`]; a tab routes to its pages (`api_*`,
//! `create_api`; `portal_api`, `wizard`, `applications`). Nothing here knows `App`.

pub mod api_analytics;
pub mod api_definition;
pub mod api_deployments;
pub mod api_lifecycle;
pub mod api_overview;
pub mod api_plans;
pub mod api_settings;
pub mod applications;
pub mod create_api;
pub mod dialogs;
pub mod live;
pub mod portal;
pub mod portal_api;
pub mod publisher;
pub mod servers;
pub mod tutorial;
pub mod users;
pub mod wizard;

use super::action::Action;

/// Which screen has the keyboard, for help and routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreenId {
    /// Publisher: the list of APIs.
    ApiList,
    /// Publisher: Create API.
    CreateApi,
    /// Publisher: an API's Overview.
    ApiOverview,
    /// Publisher: an API's Business Plans.
    ApiPlans,
    /// Publisher: an API's Lifecycle.
    ApiLifecycle,
    /// Publisher: an API's Deployments.
    ApiDeployments,
    /// Publisher: an API's AsyncAPI definition.
    ApiDefinition,
    /// Publisher: an API's Analytics.
    ApiAnalytics,
    /// Portal: published APIs.
    PortalApis,
    /// Portal: one API (Overview, Subscriptions, Try it).
    PortalApi,
    /// Portal: the Subscription & Key Generation Wizard.
    Wizard,
    /// Portal: applications and one application.
    Applications,
    /// Servers.
    Servers,
    /// The guided tutorial.
    Tutorial,
    /// Admin > Users (from Servers).
    Users,
    /// The live pane.
    Live,
}

/// Moves a cursor within `len` items by an action; returns whether it was a move.
pub fn move_cursor(cursor: &mut usize, len: usize, action: &Action) -> bool {
    let last = len.saturating_sub(1);
    match action {
        Action::Up => *cursor = cursor.saturating_sub(1),
        Action::Down => *cursor = (*cursor + 1).min(last),
        Action::PageUp => *cursor = cursor.saturating_sub(10),
        Action::PageDown => *cursor = (*cursor + 10).min(last),
        Action::Top => *cursor = 0,
        Action::Bottom => *cursor = last,
        _ => return false,
    }
    true
}
