//! Admin > Users (issue 14): the management users with their roles and lock state; add
//! one (name, roles, password) or remove one, through control's user operations. Admin
//! only; reached from the Servers tab with `u`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, TableState};

use super::move_cursor;
use crate::catalog::user::{parse_roles, validate_password, validate_user_name};
use crate::control::UserRecord;
use crate::tui::action::{Action, Command, Done};
use crate::tui::input::TextInput;
use crate::tui::screen::{Ctx, Effects};
use crate::tui::state::{Level, Overlay};
use crate::tui::widgets::{block, field, hints};

/// The add-user form: name, roles (comma-separated), password (shown as `*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserForm {
    /// The fields, in order: name, roles, password.
    pub fields: [TextInput; 3],
    /// The field being edited.
    pub row: usize,
    /// Why the last attempt was refused, shown under the form.
    pub error: Option<String>,
}

impl UserForm {
    /// The form's input as a command, or the first problem (field index, message).
    pub fn command(&self) -> Result<Command, (usize, String)> {
        let name = self.fields[0].value().trim().to_string();
        validate_user_name(&name).map_err(|e| (0, e.to_string()))?;
        let roles = parse_roles(
            self.fields[1]
                .value()
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty()),
        )
        .map_err(|e| (1, e.to_string()))?;
        if roles.is_empty() {
            return Err((
                1,
                "roles: name at least one of admin, creator, publisher, subscriber".to_string(),
            ));
        }
        let password = self.fields[2].value().to_string();
        validate_password(&password).map_err(|e| (2, e.to_string()))?;
        Ok(Command::CreateUser {
            name,
            password,
            roles,
        })
    }
}

/// The Users page's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsersPage {
    /// The selected user.
    pub cursor: usize,
    /// The add-user form, when open.
    pub form: Option<UserForm>,
}

/// Users sorted by name.
pub fn users_sorted<'a>(ctx: &Ctx<'a>) -> Vec<&'a UserRecord> {
    let mut users: Vec<&UserRecord> = ctx.catalog.users.values().collect();
    users.sort_by(|a, b| a.user.name.cmp(&b.user.name));
    users
}

/// The page's letter keys (outside the form).
pub fn keymap(page: &UsersPage, c: char) -> Option<Action> {
    if page.form.is_some() {
        return None;
    }
    match c {
        'a' | 'n' => Some(Action::New),
        'd' | 'x' => Some(Action::DeleteSelected),
        _ => None,
    }
}

/// The page's keys, for help.
pub fn keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("j/k, Up/Down", "select a user"),
        ("a", "add a user (name, roles, password)"),
        ("d", "remove the user and their applications (asks)"),
        ("Enter", "in the form: next field, then add"),
        ("Esc", "close the form / back to Servers"),
    ]
}

/// Applies an action; answers whether the page should close (Esc on the list).
pub fn update(page: &mut UsersPage, ctx: &Ctx, fx: &mut Effects, action: Action) -> bool {
    if let Action::Done(Done::Users(result)) = action {
        match result {
            Ok(m) => {
                page.form = None;
                fx.status(Level::Ok, m);
            }
            Err(e) => {
                if let Some(form) = &mut page.form {
                    form.error = Some(e.clone());
                }
                fx.error(e);
            }
        }
        return false;
    }
    if let Some(form) = &mut page.form {
        match action {
            Action::Back => {
                page.form = None;
                fx.status(Level::Info, "Add user cancelled");
            }
            Action::Up => form.row = form.row.saturating_sub(1),
            Action::Down => form.row = (form.row + 1).min(2),
            Action::Enter if form.row < 2 => form.row += 1,
            Action::Enter => match form.command() {
                Ok(command) => {
                    form.error = None;
                    fx.status(Level::Info, "Adding the user...");
                    fx.command(command);
                }
                Err((row, message)) => {
                    form.row = row;
                    form.error = Some(message.clone());
                    fx.error(message);
                }
            },
            other => {
                if form.fields[form.row].edit(&other) {
                    form.error = None;
                }
            }
        }
        return false;
    }
    let users = users_sorted(ctx);
    if move_cursor(&mut page.cursor, users.len(), &action) {
        return false;
    }
    match action {
        Action::Back => return true,
        Action::New => page.form = Some(UserForm::default()),
        Action::DeleteSelected => match users.get(page.cursor) {
            Some(r) if r.user.name == ctx.config.principal.user => {
                fx.error(format!(
                    "{} is signed in here and cannot remove itself",
                    r.user.name
                ));
            }
            Some(r) => fx.overlay(Overlay::Confirm {
                title: "Remove user".to_string(),
                message: format!(
                    "Remove user {} with their applications (their streams close)?",
                    r.user.name
                ),
                command: Box::new(Command::DeleteUser {
                    user_id: r.user.id.clone(),
                }),
            }),
            None => fx.status(Level::Info, "No user selected"),
        },
        _ => {}
    }
    false
}

/// Draws the page.
pub fn draw(page: &UsersPage, ctx: &Ctx, frame: &mut Frame, area: Rect) {
    let theme = ctx.theme;
    let outer = block(theme, "Admin > Users", ctx.focused);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let form_height = if page.form.is_some() { 5 } else { 0 };
    let [body, form_area, foot] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(form_height),
        Constraint::Length(1),
    ])
    .areas(inner);
    let now = ctx.clock_ms();
    let users = users_sorted(ctx);
    let rows = users.iter().map(|r| {
        let roles: Vec<&str> = r.user.roles.iter().map(|x| x.as_str()).collect();
        let state = if r.user.is_locked(now) {
            "locked"
        } else {
            "active"
        };
        Row::new(vec![
            r.user.name.clone(),
            roles.join(","),
            state.to_string(),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Fill(2),
            Constraint::Fill(3),
            Constraint::Length(8),
        ],
    )
    .header(Row::new(vec!["User", "Roles", "State"]).style(theme.muted()))
    .row_highlight_style(if ctx.focused && page.form.is_none() {
        theme.selection()
    } else {
        theme.text()
    })
    .highlight_symbol("> ");
    let mut state = TableState::default().with_selected(Some(page.cursor));
    frame.render_stateful_widget(table, body, &mut state);
    if let Some(form) = &page.form {
        let rows = Layout::vertical([Constraint::Length(1); 5]).split(form_area);
        let masked = TextInput::with_value(&"*".repeat(form.fields[2].value().chars().count()));
        let labels = ["Name", "Roles", "Password"];
        for (i, label) in labels.iter().enumerate() {
            let input = if i == 2 { &masked } else { &form.fields[i] };
            field(
                frame,
                theme,
                rows[i + 1],
                label,
                12,
                input,
                form.row == i,
                ctx.focused && form.row == i,
            );
        }
        if let Some(e) = &form.error {
            frame.render_widget(
                Paragraph::new(Line::from(Span::styled(format!("  {e}"), theme.error()))),
                rows[4],
            );
        }
    }
    let keys: &[(&str, &str)] = if page.form.is_some() {
        &[("Enter", "next / add"), ("Esc", "cancel")]
    } else {
        &[
            ("a", "add"),
            ("d", "remove"),
            ("Esc", "back"),
            ("?", "keys"),
        ]
    };
    frame.render_widget(hints(theme, keys), foot);
}
