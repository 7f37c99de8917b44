//! The Publisher tab: its state, the list of APIs (its first screen), and the frame around
//! an API's pages (Overview, Business Plans, Lifecycle, Deployments, AsyncAPI).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, TableState};

use crate::tui::action::{Action, Command, Done};
use crate::tui::screen::{Ctx, Effects, Screen};
use crate::tui::state::{Level, Overlay};
use crate::tui::widgets::{block, ellipsis, hints};

use super::api_deployments::DeploymentsPage;
use super::api_plans::PlansPage;
use super::create_api::CreateApi;
use super::{
    ScreenId, api_analytics, api_definition, api_deployments, api_lifecycle, api_overview,
    api_plans, create_api, move_cursor,
};

/// The Publisher tab's state.
#[derive(Debug, Clone, Default)]
pub struct Publisher {
    /// What it shows.
    pub view: PublisherView,
    /// The selected row of the API list.
    pub cursor: usize,
}

/// What the Publisher shows.
#[derive(Debug, Clone, Default)]
pub enum PublisherView {
    /// The list of APIs.
    #[default]
    List,
    /// Create API.
    Create(CreateApi),
    /// One API's pages.
    Api(ApiView),
}

/// One API's pages and their state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiView {
    /// The API's id.
    pub api_id: String,
    /// The page shown.
    pub page: ApiPage,
    /// Business Plans.
    pub plans: PlansPage,
    /// The selected lifecycle action.
    pub lifecycle_cursor: usize,
    /// Deployments.
    pub deployments: DeploymentsPage,
    /// The AsyncAPI definition's scroll.
    pub definition_scroll: usize,
    /// The Overview's open editor (CORS, endpoint certificate).
    pub settings: Option<super::api_settings::SettingsForm>,
}

impl ApiView {
    /// An API's view on a page.
    pub fn new(api_id: &str, page: ApiPage) -> Self {
        ApiView {
            api_id: api_id.to_string(),
            page,
            plans: PlansPage::default(),
            lifecycle_cursor: 0,
            deployments: DeploymentsPage::default(),
            definition_scroll: 0,
            settings: None,
        }
    }
}

/// An API's pages, in the order of WSO2's Publisher menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiPage {
    /// Overview.
    Overview,
    /// Business Plans (Subscriptions).
    Plans,
    /// Lifecycle.
    Lifecycle,
    /// Deployments.
    Deployments,
    /// The AsyncAPI definition.
    Definition,
    /// Analytics: traffic charts and counters.
    Analytics,
}

impl ApiPage {
    /// Every page, in menu order.
    pub const ALL: [ApiPage; 6] = [
        ApiPage::Overview,
        ApiPage::Plans,
        ApiPage::Lifecycle,
        ApiPage::Deployments,
        ApiPage::Definition,
        ApiPage::Analytics,
    ];

    /// The menu label.
    pub fn label(self) -> &'static str {
        match self {
            ApiPage::Overview => "Overview",
            ApiPage::Plans => "Business Plans",
            ApiPage::Lifecycle => "Lifecycle",
            ApiPage::Deployments => "Deployments",
            ApiPage::Definition => "AsyncAPI",
            ApiPage::Analytics => "Analytics",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}

impl Screen for Publisher {
    fn id(&self) -> ScreenId {
        screen(self)
    }

    fn help(&self) -> (&'static str, Vec<(&'static str, &'static str)>) {
        match self.id() {
            ScreenId::CreateApi => ("Create API", create_api::keys()),
            ScreenId::ApiOverview => ("API Overview", api_overview::keys()),
            ScreenId::ApiPlans => ("Business Plans", api_plans::keys()),
            ScreenId::ApiLifecycle => ("Lifecycle", api_lifecycle::keys()),
            ScreenId::ApiDeployments => ("Deployments", api_deployments::keys()),
            ScreenId::ApiDefinition => ("AsyncAPI definition", api_definition::keys()),
            ScreenId::ApiAnalytics => ("API Analytics", api_analytics::keys()),
            _ => ("APIs", keys()),
        }
    }

    fn keymap(&self, c: char) -> Option<Action> {
        match self.id() {
            ScreenId::ApiList => keymap(c),
            ScreenId::ApiPlans => api_plans::keymap(c),
            ScreenId::ApiDeployments => api_deployments::keymap(self, c),
            ScreenId::ApiOverview => api_overview::keymap(c),
            _ => None,
        }
    }

    fn is_typing(&self) -> bool {
        create_api::is_typing(self)
            || matches!(&self.view, PublisherView::Api(v) if v.settings.is_some())
    }

    fn update(&mut self, ctx: &Ctx, action: Action) -> Effects {
        let mut fx = Effects::none();
        let commands = match action {
            Action::Done(Done::ApiCreated(result)) => create_api::on_created(self, &mut fx, result),
            Action::Done(Done::PlansSaved(result)) => api_plans::on_saved(self, &mut fx, result),
            Action::Done(Done::Deployed(result)) => {
                api_deployments::on_deployed(self, &mut fx, result)
            }
            Action::Done(Done::ApiSettings(result)) => {
                api_overview::on_saved(self, &mut fx, result);
                Vec::new()
            }
            Action::Done(_) => Vec::new(),
            other => update(self, ctx, &mut fx, other),
        };
        fx.commands(commands);
        fx
    }

    fn on_catalog(&mut self, ctx: &Ctx) {
        on_catalog(self, ctx);
    }

    fn draw(&self, ctx: &Ctx, frame: &mut Frame, area: Rect) {
        draw(self, ctx, frame, area, ctx.focused);
    }
}

/// The screen the Publisher shows.
pub fn screen(p: &Publisher) -> ScreenId {
    match &p.view {
        PublisherView::List => ScreenId::ApiList,
        PublisherView::Create(_) => ScreenId::CreateApi,
        PublisherView::Api(v) => match v.page {
            ApiPage::Overview => ScreenId::ApiOverview,
            ApiPage::Plans => ScreenId::ApiPlans,
            ApiPage::Lifecycle => ScreenId::ApiLifecycle,
            ApiPage::Deployments => ScreenId::ApiDeployments,
            ApiPage::Definition => ScreenId::ApiDefinition,
            ApiPage::Analytics => ScreenId::ApiAnalytics,
        },
    }
}

/// The list's letter keys.
pub fn keymap(c: char) -> Option<Action> {
    match c {
        'n' | 'c' => Some(Action::New),
        'd' | 'x' => Some(Action::DeleteSelected),
        _ => None,
    }
}

/// The list's keys, for help.
pub fn keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("j/k, Up/Down", "select an API"),
        ("Enter", "open the API's pages"),
        ("n", "Create API (Streaming API > SSE API)"),
        ("d", "delete the selected API (asks first)"),
    ]
}

/// Opens an API on a page.
pub fn open_api(p: &mut Publisher, api_id: &str, page: ApiPage) {
    p.view = PublisherView::Api(ApiView::new(api_id, page));
}

/// Routes an action within the Publisher.
pub fn update(p: &mut Publisher, ctx: &Ctx, fx: &mut Effects, action: Action) -> Vec<Command> {
    match &p.view {
        PublisherView::List => update_list(p, ctx, fx, action),
        PublisherView::Create(_) => create_api::update(p, ctx, fx, action),
        PublisherView::Api(view) => {
            let page = view.page;
            let dialog_open = view.deployments.dialog.is_some() || view.settings.is_some();
            if !dialog_open {
                match action {
                    Action::Left | Action::Right => {
                        let i = page.index();
                        let n = ApiPage::ALL.len();
                        let next = if matches!(action, Action::Left) {
                            (i + n - 1) % n
                        } else {
                            (i + 1) % n
                        };
                        if let PublisherView::Api(v) = &mut p.view {
                            v.page = ApiPage::ALL[next];
                        }
                        return Vec::new();
                    }
                    Action::Back => {
                        p.view = PublisherView::List;
                        return Vec::new();
                    }
                    _ => {}
                }
            }
            match page {
                ApiPage::Overview => api_overview::update(p, ctx, fx, action),
                ApiPage::Plans => api_plans::update(p, ctx, fx, action),
                ApiPage::Lifecycle => api_lifecycle::update(p, ctx, fx, action),
                ApiPage::Deployments => api_deployments::update(p, ctx, fx, action),
                ApiPage::Definition => api_definition::update(p, action),
                ApiPage::Analytics => api_analytics::update(p, ctx, fx, action),
            }
        }
    }
}

fn update_list(p: &mut Publisher, ctx: &Ctx, fx: &mut Effects, action: Action) -> Vec<Command> {
    let catalog = ctx.catalog.clone();
    let apis = catalog.apis_sorted();
    if move_cursor(&mut p.cursor, apis.len(), &action) {
        return Vec::new();
    }
    match action {
        Action::Enter => {
            if let Some(api) = apis.get(p.cursor) {
                open_api(p, &api.id, ApiPage::Overview);
            } else {
                fx.status(Level::Info, "No APIs yet: press n to create one");
            }
        }
        Action::New if !ctx.config.can_create() => fx.error(format!(
            "{} cannot create APIs: Create appears only for a user with the creator role",
            ctx.config.principal.user
        )),
        Action::New => p.view = PublisherView::Create(CreateApi::default()),
        Action::DeleteSelected => {
            if let Some(api) = apis.get(p.cursor) {
                fx.overlay(Overlay::Confirm {
                    title: "Delete API".to_string(),
                    message: format!(
                        "Delete {} with its revisions and deployments? This cannot be undone.",
                        api.handle()
                    ),
                    command: Box::new(Command::DeleteApi {
                        api_id: api.id.clone(),
                    }),
                });
            }
        }
        _ => {}
    }
    Vec::new()
}

/// Leaves the view of an API that is gone; clamps the list cursor.
pub fn on_catalog(p: &mut Publisher, ctx: &Ctx) {
    let count = ctx.catalog.apis.len();
    p.cursor = p.cursor.min(count.saturating_sub(1));
    if let PublisherView::Api(v) = &p.view
        && !ctx.catalog.apis.contains_key(&v.api_id)
    {
        p.view = PublisherView::List;
    }
    let catalog = ctx.catalog.clone();
    if let PublisherView::Api(v) = &mut p.view
        && let Some(api) = catalog.apis.get(&v.api_id)
    {
        let n = api.lifecycle.allowed_actions().len();
        v.lifecycle_cursor = v.lifecycle_cursor.min(n.saturating_sub(1));
    }
    api_plans::on_catalog(p, ctx);
    api_deployments::on_catalog(p, ctx);
}

/// Draws the Publisher.
pub fn draw(p: &Publisher, ctx: &Ctx, frame: &mut Frame, area: Rect, focused: bool) {
    match &p.view {
        PublisherView::List => draw_list(p, ctx, frame, area, focused),
        PublisherView::Create(form) => create_api::draw(ctx, form, frame, area, focused),
        PublisherView::Api(view) => draw_api(ctx, view, frame, area, focused),
    }
}

fn draw_list(p: &Publisher, ctx: &Ctx, frame: &mut Frame, area: Rect, focused: bool) {
    let theme = ctx.theme;
    let outer = block(theme, "Publisher - APIs", focused);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let [body, foot] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    let apis = ctx.catalog.apis_sorted();
    if apis.is_empty() && !ctx.config.can_create() {
        let text = vec![
            Line::from(""),
            Line::from(Span::styled("  No APIs yet.", theme.text())),
        ];
        frame.render_widget(Paragraph::new(text), body);
    } else if apis.is_empty() {
        let text = vec![
            Line::from(""),
            Line::from(Span::styled("  No APIs yet.", theme.text())),
            Line::from(vec![
                Span::styled("  Press ", theme.text()),
                Span::styled("n", theme.key()),
                Span::styled(
                    " to create one: Create API > Streaming API > SSE API.",
                    theme.text(),
                ),
            ]),
        ];
        frame.render_widget(Paragraph::new(text), body);
    } else {
        // Versions get the room the longest needs (7 to 24 columns); name and context
        // share the rest. A cell too long for its column ends in "..." rather than being
        // cut silently (two long versions must not look the same).
        let version_w = apis
            .iter()
            .map(|a| a.version.chars().count())
            .max()
            .unwrap_or(0)
            .clamp(7, 24);
        // The highlight symbol, the fixed columns and one space between columns.
        let fixed = 2 + version_w + 5 + 13 + 4;
        let rest = usize::from(body.width).saturating_sub(fixed).max(8);
        let (name_w, context_w) = (rest / 2, rest - rest / 2);
        let rows = apis.iter().map(|api| {
            Row::new(vec![
                ellipsis(&api.name, name_w),
                ellipsis(&api.version, version_w),
                ellipsis(&api.context, context_w),
                "SSE".to_string(),
                api.lifecycle.label().to_string(),
            ])
        });
        let width = |w: usize| Constraint::Length(u16::try_from(w).unwrap_or(u16::MAX));
        let table = Table::new(
            rows,
            [
                width(name_w),
                width(version_w),
                width(context_w),
                Constraint::Length(5),
                Constraint::Length(13),
            ],
        )
        .header(Row::new(vec!["Name", "Version", "Context", "Type", "State"]).style(theme.muted()))
        .row_highlight_style(if focused {
            theme.selection()
        } else {
            theme.text()
        })
        .highlight_symbol("> ");
        let mut state = TableState::default().with_selected(Some(p.cursor));
        frame.render_stateful_widget(table, body, &mut state);
    }
    // Create (and delete) appear only for a user with the creator role.
    let keys: &[(&str, &str)] = if ctx.config.can_create() {
        &[
            ("n", "create API"),
            ("Enter", "open"),
            ("d", "delete"),
            ("?", "keys"),
        ]
    } else {
        &[("Enter", "open"), ("?", "keys")]
    };
    frame.render_widget(hints(theme, keys), foot);
}

fn draw_api(ctx: &Ctx, view: &ApiView, frame: &mut Frame, area: Rect, focused: bool) {
    let theme = ctx.theme;
    let Some(api) = ctx.api(&view.api_id) else {
        return;
    };
    let title = format!("{} {} - {}", api.name, api.version, api.lifecycle.label());
    let outer = block(theme, &title, focused);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let [tabs, page] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(inner);
    let mut spans = Vec::new();
    for (i, p) in ApiPage::ALL.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" | ", theme.muted()));
        }
        let style = if *p == view.page {
            theme.tab_active()
        } else {
            theme.muted()
        };
        spans.push(Span::styled(p.label(), style));
    }
    // Three spaces before the hint when they fit, else one (80 columns fit all six tabs).
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    let gap = if used + 6 <= usize::from(tabs.width) {
        "   "
    } else {
        " "
    };
    spans.push(Span::styled(format!("{gap}h/l"), theme.key()));
    frame.render_widget(Line::from(spans), tabs);
    match view.page {
        ApiPage::Overview => match &view.settings {
            Some(form) => super::api_settings::draw(ctx, form, frame, page),
            None => api_overview::draw(ctx, api, frame, page),
        },
        ApiPage::Plans => api_plans::draw(ctx, api, view, frame, page, focused),
        ApiPage::Lifecycle => api_lifecycle::draw(ctx, api, view, frame, page, focused),
        ApiPage::Deployments => api_deployments::draw(ctx, api, view, frame, page, focused),
        ApiPage::Definition => api_definition::draw(ctx, api, view, frame, page),
        ApiPage::Analytics => api_analytics::draw(ctx, api, frame, page),
    }
}
