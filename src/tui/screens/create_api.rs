//! Publisher > Create API: Streaming API > SSE API, then the form (Name, Context, Version,
//! Protocol SSE, Endpoint) with inline validation by the catalog's own rules.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::publisher::Publisher;
use crate::catalog::{self, Api, ApiDraft, RuleError};
use crate::tui::action::{Action, Command};
use crate::tui::input::TextInput;
use crate::tui::screen::{Ctx, Effects};
use crate::tui::screens::live::LineKind;
use crate::tui::state::Level;
use crate::tui::widgets::{block, field, hints, marker};

use super::publisher::{ApiPage, PublisherView, open_api};

/// The form's text fields, in order.
pub const FIELDS: [&str; 4] = ["Name", "Context", "Version", "Endpoint"];
/// The row of the Create button (after the fields).
const CREATE_ROW: usize = 4;

/// The first menu: what kind of API.
const KINDS: [(&str, bool, &str); 2] = [
    ("REST API", false, "not offered: streamgate serves SSE APIs"),
    ("Streaming API", true, "WebSocket, WebSub, SSE"),
];
/// The second menu: which streaming protocol.
const PROTOCOLS: [(&str, bool, &str); 3] = [
    (
        "SSE API",
        true,
        "Server-Sent Events: one-way stream over HTTP",
    ),
    ("WebSocket API", false, "not offered"),
    ("WebSub API", false, "not offered"),
];

/// Where in Create API the person is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Choosing REST or Streaming.
    Kind,
    /// Choosing SSE, WebSocket or WebSub.
    Streaming,
    /// Filling in the SSE API form.
    Form,
}

/// Create API's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateApi {
    /// The stage.
    pub stage: Stage,
    /// The menu's selected row.
    pub menu_cursor: usize,
    /// Name, Context, Version, Endpoint.
    pub fields: [TextInput; 4],
    /// The selected row (a field, or the Create button).
    pub row: usize,
    /// Fields the person has left or edited: their messages show.
    pub touched: [bool; 4],
    /// Waiting for control.
    pub busy: bool,
    /// What control said when it refused.
    pub error: Option<String>,
}

impl Default for CreateApi {
    fn default() -> Self {
        CreateApi {
            stage: Stage::Kind,
            menu_cursor: 1,
            fields: Default::default(),
            row: 0,
            touched: [false; 4],
            busy: false,
            error: None,
        }
    }
}

impl CreateApi {
    /// The draft the form describes: the endpoint serves production and sandbox alike.
    pub fn draft(&self) -> ApiDraft {
        let endpoint = self.fields[3].value().trim();
        let endpoint = (!endpoint.is_empty()).then(|| endpoint.to_string());
        ApiDraft {
            name: self.fields[0].value().to_string(),
            context: self.fields[1].value().to_string(),
            version: self.fields[2].value().to_string(),
            production_endpoint: endpoint.clone(),
            sandbox_endpoint: endpoint,
            ..ApiDraft::default()
        }
    }

    /// The message for each field, by the catalog's rules, against the other APIs.
    pub fn messages(
        &self,
        others: &[&Api],
        revisions: &[&catalog::Revision],
    ) -> [Option<String>; 4] {
        let mut out: [Option<String>; 4] = Default::default();
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = field_message(i, self.fields[i].value());
        }
        if out.iter().all(Option::is_none)
            && let Err(RuleError::Conflict { code, message }) =
                catalog::check_api_unique(&self.draft(), others, revisions)
        {
            let i = if code == 900300 { 0 } else { 1 };
            out[i] = Some(message);
        }
        out
    }
}

/// Checks one field alone, by running the catalog's validation on a draft whose other
/// fields are known to be good.
fn field_message(index: usize, value: &str) -> Option<String> {
    if value.trim().is_empty() {
        return Some(format!(
            "the {} must not be empty",
            FIELDS[index].to_lowercase()
        ));
    }
    let mut draft = ApiDraft {
        name: "ok".into(),
        context: "/ok".into(),
        version: "1".into(),
        production_endpoint: Some("http://ok".into()),
        sandbox_endpoint: None,
        ..ApiDraft::default()
    };
    match index {
        0 => draft.name = value.to_string(),
        1 => draft.context = value.to_string(),
        2 => draft.version = value.to_string(),
        _ => draft.production_endpoint = Some(value.trim().to_string()),
    }
    match catalog::validate_api(&draft, &catalog::builtin_subscription_policies()) {
        Err(RuleError::Invalid { message, .. }) => Some(message),
        _ => None,
    }
}

/// Whether a text field of the form has the keyboard.
pub fn is_typing(p: &Publisher) -> bool {
    matches!(&p.view, PublisherView::Create(f) if f.stage == Stage::Form && f.row < CREATE_ROW)
}

/// Keys, for help.
pub fn keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Up/Down", "choose (menu) or move between fields"),
        ("Enter", "open the choice / next field / Create"),
        ("typing", "edits the selected field"),
        ("Esc", "back (leaves the form without creating)"),
        ("Tab", "to the live pane"),
    ]
}

/// Create API's part of `update`.
pub fn update(p: &mut Publisher, ctx: &Ctx, fx: &mut Effects, action: Action) -> Vec<Command> {
    let others_catalog = ctx.catalog.clone();
    let PublisherView::Create(form) = &mut p.view else {
        return Vec::new();
    };
    match form.stage {
        Stage::Kind | Stage::Streaming => {
            let menu: &[(&str, bool, &str)] = if form.stage == Stage::Kind {
                &KINDS
            } else {
                &PROTOCOLS
            };
            match action {
                Action::Up => form.menu_cursor = form.menu_cursor.saturating_sub(1),
                Action::Down => form.menu_cursor = (form.menu_cursor + 1).min(menu.len() - 1),
                Action::Enter | Action::Right => {
                    let (name, offered, why) = menu[form.menu_cursor.min(menu.len() - 1)];
                    if !offered {
                        fx.status(Level::Warning, format!("{name}: {why}"));
                    } else if form.stage == Stage::Kind {
                        form.stage = Stage::Streaming;
                        form.menu_cursor = 0;
                    } else {
                        form.stage = Stage::Form;
                        form.row = 0;
                    }
                }
                Action::Back | Action::Left => {
                    if form.stage == Stage::Streaming {
                        form.stage = Stage::Kind;
                        form.menu_cursor = 1;
                    } else {
                        p.view = PublisherView::List;
                    }
                }
                _ => {}
            }
            Vec::new()
        }
        Stage::Form => {
            let row = form.row;
            match action {
                Action::Back => {
                    p.view = PublisherView::List;
                    fx.status(Level::Info, "Create API cancelled");
                }
                Action::Up => form.row = form.row.saturating_sub(1),
                Action::Down => {
                    if row < CREATE_ROW {
                        form.touched[row] = true;
                    }
                    form.row = (form.row + 1).min(CREATE_ROW);
                }
                Action::Enter if row < CREATE_ROW => {
                    form.touched[row] = true;
                    form.row += 1;
                }
                Action::Enter => {
                    if form.busy {
                        return Vec::new();
                    }
                    let others: Vec<&Api> = others_catalog.apis.values().collect();
                    let revisions: Vec<_> = others_catalog.revisions.values().collect();
                    let messages = form.messages(&others, &revisions);
                    if let Some(first) = messages.iter().position(Option::is_some) {
                        form.touched = [true; 4];
                        form.row = first;
                        fx.status(Level::Error, "Fix the marked field first");
                        return Vec::new();
                    }
                    form.busy = true;
                    form.error = None;
                    let draft = form.draft();
                    fx.status(Level::Info, format!("Creating {}...", draft.name.trim()));
                    return vec![Command::CreateApi(draft)];
                }
                other if row < CREATE_ROW => {
                    if !form.fields[row].edit(&other) {
                        return Vec::new();
                    }
                    form.touched[row] = true;
                    form.error = None;
                }
                _ => {}
            }
            Vec::new()
        }
    }
}

/// Control answered `CreateApi`: open the new API's Overview, as WSO2 does.
pub fn on_created(
    p: &mut Publisher,
    fx: &mut Effects,
    result: Result<Api, String>,
) -> Vec<crate::tui::action::Command> {
    match result {
        Ok(api) => {
            let text = format!(
                "Created {} ({}). Next: Business Plans (l)",
                api.handle(),
                api.base_path()
            );
            fx.log(LineKind::Info, format!("created API {}", api.handle()));
            if matches!(p.view, PublisherView::Create(_)) {
                open_api(p, &api.id, ApiPage::Overview);
            }
            fx.status(Level::Ok, text);
        }
        Err(e) => {
            if let PublisherView::Create(form) = &mut p.view {
                form.busy = false;
                form.error = Some(e.clone());
            }
            fx.error(e);
        }
    }
    Vec::new()
}

/// Draws Create API.
pub fn draw(ctx: &Ctx, form: &CreateApi, frame: &mut Frame, area: Rect, focused: bool) {
    let theme = ctx.theme;
    match form.stage {
        Stage::Kind | Stage::Streaming => {
            let (title, menu): (&str, &[(&str, bool, &str)]) = if form.stage == Stage::Kind {
                ("Create API", &KINDS)
            } else {
                ("Create API > Streaming API", &PROTOCOLS)
            };
            let outer = block(theme, title, focused);
            let inner = outer.inner(area);
            frame.render_widget(outer, area);
            let mut lines = vec![Line::from("")];
            for (i, (name, offered, why)) in menu.iter().enumerate() {
                let selected = i == form.menu_cursor;
                let style = if selected && focused {
                    theme.selection()
                } else if *offered {
                    theme.text()
                } else {
                    theme.muted()
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("{}{name:<16}", marker(selected)), style),
                    Span::styled(format!("  {why}"), theme.muted()),
                ]));
            }
            lines.push(Line::from(""));
            lines.push(hints(
                theme,
                &[("Up/Down", "choose"), ("Enter", "open"), ("Esc", "back")],
            ));
            frame.render_widget(Paragraph::new(lines), inner);
        }
        Stage::Form => draw_form(ctx, form, frame, area, focused),
    }
}

fn draw_form(ctx: &Ctx, form: &CreateApi, frame: &mut Frame, area: Rect, focused: bool) {
    let theme = ctx.theme;
    let outer = block(theme, "Create API > Streaming API > SSE API", focused);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let others: Vec<&Api> = ctx.catalog.apis.values().collect();
    let revisions: Vec<_> = ctx.catalog.revisions.values().collect();
    let messages = form.messages(&others, &revisions);
    const LABEL: u16 = 13;
    let mut y = inner.y;
    let bottom = inner.bottom();
    let line_at = |y: &mut u16| -> Option<Rect> {
        if *y >= bottom {
            return None;
        }
        let r = Rect::new(inner.x, *y, inner.width, 1);
        *y += 1;
        Some(r)
    };
    for i in 0..FIELDS.len() {
        // Protocol sits between Version and Endpoint, as in WSO2's form; it is fixed.
        if i == 3
            && let Some(r) = line_at(&mut y)
        {
            frame.render_widget(
                Line::from(vec![
                    Span::styled(
                        format!("  {:<w$}", "Protocol", w = usize::from(LABEL - 2)),
                        theme.text(),
                    ),
                    Span::styled(" SSE", theme.accent()),
                    Span::styled("  (Server-Sent Events)", theme.muted()),
                ]),
                r,
            );
        }
        let Some(r) = line_at(&mut y) else { break };
        let selected = focused && form.row == i;
        let label = format!("{}*", FIELDS[i]);
        field(
            frame,
            theme,
            r,
            &label,
            LABEL,
            &form.fields[i],
            selected,
            selected,
        );
        if form.touched[i]
            && let Some(message) = &messages[i]
            && let Some(r) = line_at(&mut y)
        {
            frame.render_widget(
                Line::from(Span::styled(
                    format!("{:w$}! {message}", "", w = usize::from(LABEL)),
                    theme.error(),
                )),
                r,
            );
        }
    }
    // A blank line before the button.
    let _ = line_at(&mut y);
    if let Some(r) = line_at(&mut y) {
        let selected = focused && form.row == CREATE_ROW;
        let label = if form.busy {
            "[ Creating... ]"
        } else {
            "[ Create ]"
        };
        let style = if selected {
            theme.selection()
        } else {
            theme.accent()
        };
        frame.render_widget(
            Line::from(vec![
                Span::raw(format!("{:w$}", "", w = usize::from(LABEL))),
                Span::styled(label, style),
            ]),
            r,
        );
    }
    if let Some(error) = &form.error
        && let Some(r) = line_at(&mut y)
    {
        frame.render_widget(
            Line::from(Span::styled(format!("  ! {error}"), theme.error())),
            r,
        );
    }
    if inner.height > 0 {
        let r = Rect::new(inner.x, bottom - 1, inner.width, 1);
        if y <= r.y {
            frame.render_widget(
                hints(
                    theme,
                    &[
                        ("Down/Enter", "next field"),
                        ("Enter on Create", "create"),
                        ("Esc", "cancel"),
                    ],
                ),
                r,
            );
        }
    }
}
