//! The screens, one per file: each has its state, the letter keys it understands, its part
//! of `update` and its `draw`. This module routes actions and keys to the current one.

pub mod api_definition;
pub mod api_deployments;
pub mod api_lifecycle;
pub mod api_overview;
pub mod api_plans;
pub mod applications;
pub mod create_api;
pub mod dialogs;
pub mod live;
pub mod portal;
pub mod portal_api;
pub mod publisher;
pub mod servers;
pub mod tutorial;
pub mod wizard;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;

use super::action::{Action, Command, Tab};
use super::app::{App, Focus};

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
    /// The live pane.
    Live,
}

/// The screen with the keyboard.
pub fn current(app: &App) -> ScreenId {
    if app.focus == Focus::Live {
        return ScreenId::Live;
    }
    match app.tab {
        Tab::Publisher => publisher::screen(app),
        Tab::Portal => portal::screen(app),
        Tab::Servers => ScreenId::Servers,
        Tab::Tutorial => ScreenId::Tutorial,
    }
}

/// Whether the main pane's screen has a text field with the keyboard.
pub fn is_typing(app: &App) -> bool {
    match app.tab {
        Tab::Publisher => create_api::is_typing(app),
        Tab::Portal => wizard::is_typing(app),
        Tab::Servers => app.servers.editing,
        Tab::Tutorial => false,
    }
}

/// The current screen's own letter keys (checked before the generic navigation keys).
pub fn keymap(app: &App, key: KeyEvent) -> Option<Action> {
    let KeyCode::Char(c) = key.code else {
        return None;
    };
    match current(app) {
        ScreenId::ApiList => publisher::keymap(c),
        ScreenId::CreateApi => None,
        ScreenId::ApiOverview | ScreenId::ApiDefinition => None,
        ScreenId::ApiPlans => api_plans::keymap(c),
        ScreenId::ApiLifecycle => None,
        ScreenId::ApiDeployments => api_deployments::keymap(app, c),
        ScreenId::PortalApis => portal::keymap(c),
        ScreenId::PortalApi => portal_api::keymap(c),
        ScreenId::Wizard => wizard::keymap(app, c),
        ScreenId::Applications => applications::keymap(c),
        ScreenId::Servers => servers::keymap(c),
        ScreenId::Tutorial => None,
        ScreenId::Live => live::keymap(c),
    }
}

/// The keys of the current screen, for `?`.
pub fn help(app: &App) -> (&'static str, Vec<(&'static str, &'static str)>) {
    match current(app) {
        ScreenId::ApiList => ("APIs", publisher::keys()),
        ScreenId::CreateApi => ("Create API", create_api::keys()),
        ScreenId::ApiOverview => ("API Overview", api_overview::keys()),
        ScreenId::ApiPlans => ("Business Plans", api_plans::keys()),
        ScreenId::ApiLifecycle => ("Lifecycle", api_lifecycle::keys()),
        ScreenId::ApiDeployments => ("Deployments", api_deployments::keys()),
        ScreenId::ApiDefinition => ("AsyncAPI definition", api_definition::keys()),
        ScreenId::PortalApis => ("Developer Portal", portal::keys()),
        ScreenId::PortalApi => ("API in the Developer Portal", portal_api::keys()),
        ScreenId::Wizard => ("Subscription & Key Generation Wizard", wizard::keys()),
        ScreenId::Applications => ("Applications", applications::keys()),
        ScreenId::Servers => ("Servers", servers::keys()),
        ScreenId::Tutorial => ("Tutorial", tutorial::keys()),
        ScreenId::Live => ("Live events", live::keys()),
    }
}

/// Routes a navigation, editing or screen action to the main pane's screen.
pub fn update(app: &mut App, action: Action) -> Vec<Command> {
    match app.tab {
        Tab::Publisher => publisher::update(app, action),
        Tab::Portal => portal::update(app, action),
        Tab::Servers => servers::update(app, action),
        Tab::Tutorial => tutorial::update(app, action),
    }
}

/// After a new catalog snapshot: leave views of things that are gone, clamp cursors.
pub fn on_catalog(app: &mut App) {
    publisher::on_catalog(app);
    portal::on_catalog(app);
}

/// Draws the current tab's screen.
pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let focused = app.focus == Focus::Main;
    match app.tab {
        Tab::Publisher => publisher::draw(app, frame, area, focused),
        Tab::Portal => portal::draw(app, frame, area, focused),
        Tab::Servers => servers::draw(app, frame, area, focused),
        Tab::Tutorial => tutorial::draw(app, frame, area, focused),
    }
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
