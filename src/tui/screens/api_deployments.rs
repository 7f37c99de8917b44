//! Publisher > API > Deployments: revisions and where each is deployed; Deploy New
//! Revision (environment checkboxes and vhost), deploy, undeploy, restore and delete.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::publisher::Publisher;
use crate::catalog::{Api, MAX_REVISIONS};
use crate::tui::action::{Action, Command};
use crate::tui::screen::{Ctx, Effects};
use crate::tui::state::{Level, Overlay};
use crate::tui::widgets::{block, centered, checkbox, clock, hints, marker};

use super::move_cursor;
use super::publisher::{ApiView, PublisherView};
use crate::catalog::DeployTarget;

/// The Deployments page's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeploymentsPage {
    /// The selected revision (oldest first).
    pub cursor: usize,
    /// The deploy dialog, when open.
    pub dialog: Option<DeployDialog>,
}

/// One gateway environment in the deploy dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvChoice {
    /// Its name, e.g. `Production and Sandbox`.
    pub name: String,
    /// Its vhost, e.g. `localhost`.
    pub vhost: String,
    /// Ticked.
    pub checked: bool,
}

/// "Deploy New Revision" (or deploy an existing revision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployDialog {
    /// `None`: snapshot a new revision; else (revision id, number) to deploy.
    pub revision: Option<(String, u32)>,
    /// The environments.
    pub envs: Vec<EnvChoice>,
    /// The selected row: an environment, or the Deploy button after them.
    pub row: usize,
    /// Waiting for control.
    pub busy: bool,
    /// What control said when it refused.
    pub error: Option<String>,
}

/// The page's letter keys.
pub fn keymap(p: &Publisher, c: char) -> Option<Action> {
    let dialog_open = matches!(&p.view, PublisherView::Api(v) if v.deployments.dialog.is_some());
    if dialog_open {
        return None;
    }
    match c {
        'n' => Some(Action::New),
        'u' => Some(Action::Undeploy),
        'r' => Some(Action::Restore),
        'x' | 'd' => Some(Action::DeleteSelected),
        _ => None,
    }
}

/// Keys, for help.
pub fn keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("n", "Deploy New Revision (snapshot + deploy)"),
        ("j/k", "select a revision"),
        ("Enter", "deploy the selected revision"),
        ("u", "undeploy the selected revision"),
        ("r", "restore it into the working copy"),
        ("x", "delete it (only when not deployed)"),
        ("In the dialog", "Space ticks an environment, Enter deploys"),
        ("h/l, Esc", "pages, back"),
    ]
}

fn new_dialog(ctx: &Ctx, revision: Option<(String, u32)>) -> DeployDialog {
    DeployDialog {
        revision,
        envs: ctx
            .catalog
            .environments
            .iter()
            .map(|e| EnvChoice {
                name: e.name.clone(),
                vhost: e.vhost.clone(),
                checked: false,
            })
            .collect(),
        row: 0,
        busy: false,
        error: None,
    }
}

/// The page's part of `update`.
pub fn update(p: &mut Publisher, ctx: &Ctx, fx: &mut Effects, action: Action) -> Vec<Command> {
    let catalog = ctx.catalog.clone();
    let PublisherView::Api(v) = &p.view else {
        return Vec::new();
    };
    let Some(api) = catalog.apis.get(&v.api_id) else {
        return Vec::new();
    };
    if v.deployments.dialog.is_some() {
        return update_dialog(p, api, action);
    }
    let revisions = catalog.revisions_of(&api.id);
    let selected = revisions
        .get(match &p.view {
            PublisherView::Api(v) => v.deployments.cursor,
            _ => 0,
        })
        .copied();
    match action {
        Action::New => {
            if revisions.len() >= MAX_REVISIONS {
                fx.error(format!(
                    "{} already has {MAX_REVISIONS} revisions: delete an undeployed one first (x)",
                    api.handle()
                ));
                return Vec::new();
            }
            let d = new_dialog(ctx, None);
            set_dialog(p, Some(d));
        }
        Action::Enter => {
            if let Some(rev) = selected {
                let d = new_dialog(ctx, Some((rev.id.clone(), rev.number)));
                set_dialog(p, Some(d));
            }
        }
        Action::Undeploy => {
            if let Some(rev) = selected {
                let deployed = catalog
                    .deployments_of(&api.id)
                    .iter()
                    .any(|d| d.revision_id == rev.id);
                if deployed {
                    fx.overlay(Overlay::Confirm {
                        title: "Undeploy".to_string(),
                        message: format!(
                            "Undeploy {} of {} from every gateway environment? The gateway stops serving it.",
                            rev.display_name(),
                            api.handle()
                        ),
                        command: Box::new(Command::UndeployRevision {
                            api_id: api.id.clone(),
                            revision_id: rev.id.clone(),
                        }),
                    });
                } else {
                    fx.status(
                        Level::Info,
                        format!("{} is not deployed", rev.display_name()),
                    );
                }
            }
        }
        Action::Restore => {
            if let Some(rev) = selected {
                fx.overlay(Overlay::Confirm {
                    title: "Restore".to_string(),
                    message: format!(
                        "Restore {} into the working copy of {}? Unsaved design changes are replaced.",
                        rev.display_name(),
                        api.handle()
                    ),
                    command: Box::new(Command::RestoreRevision {
                        api_id: api.id.clone(),
                        revision_id: rev.id.clone(),
                    }),
                });
            }
        }
        Action::DeleteSelected => {
            if let Some(rev) = selected {
                fx.overlay(Overlay::Confirm {
                    title: "Delete revision".to_string(),
                    message: format!("Delete {} of {}?", rev.display_name(), api.handle()),
                    command: Box::new(Command::DeleteRevision {
                        api_id: api.id.clone(),
                        revision_id: rev.id.clone(),
                    }),
                });
            }
        }
        other => {
            if let PublisherView::Api(v) = &mut p.view {
                move_cursor(&mut v.deployments.cursor, revisions.len(), &other);
            }
        }
    }
    Vec::new()
}

fn set_dialog(p: &mut Publisher, dialog: Option<DeployDialog>) {
    if let PublisherView::Api(v) = &mut p.view {
        v.deployments.dialog = dialog;
    }
}

fn update_dialog(p: &mut Publisher, api: &Api, action: Action) -> Vec<Command> {
    let PublisherView::Api(v) = &mut p.view else {
        return Vec::new();
    };
    let Some(d) = &mut v.deployments.dialog else {
        return Vec::new();
    };
    let deploy_row = d.envs.len();
    match action {
        Action::Back => v.deployments.dialog = None,
        Action::Up => d.row = d.row.saturating_sub(1),
        Action::Down => d.row = (d.row + 1).min(deploy_row),
        Action::Toggle if d.row < deploy_row => {
            if let Some(env) = d.envs.get_mut(d.row) {
                env.checked = !env.checked;
                d.error = None;
            }
        }
        Action::Enter => {
            // Enter deploys from any row; on an environment's row with nothing ticked yet it
            // ticks that one first (Enter toggling a box back off lost the tick).
            if d.row < deploy_row
                && !d.envs.iter().any(|e| e.checked)
                && let Some(env) = d.envs.get_mut(d.row)
            {
                env.checked = true;
            }
            if d.busy {
                return Vec::new();
            }
            let targets: Vec<DeployTarget> = d
                .envs
                .iter()
                .filter(|e| e.checked)
                .map(|e| DeployTarget::new(e.name.clone(), e.vhost.clone()))
                .collect();
            if targets.is_empty() {
                d.error = Some("Tick a gateway environment first (Space)".to_string());
                d.row = 0;
                return Vec::new();
            }
            d.busy = true;
            let api_id = api.id.clone();
            return vec![match &d.revision {
                None => Command::DeployNewRevision { api_id, targets },
                Some((revision_id, _)) => Command::DeployRevision {
                    api_id,
                    revision_id: revision_id.clone(),
                    targets,
                },
            }];
        }
        _ => {}
    }
    Vec::new()
}

/// Control answered a deploy.
pub fn on_deployed(
    p: &mut Publisher,
    fx: &mut Effects,
    result: Result<String, String>,
) -> Vec<Command> {
    match result {
        Ok(summary) => {
            set_dialog(p, None);
            fx.log(crate::tui::screens::live::LineKind::Info, summary.clone());
            fx.status(Level::Ok, summary);
        }
        Err(e) => {
            if let PublisherView::Api(v) = &mut p.view
                && let Some(d) = &mut v.deployments.dialog
            {
                d.busy = false;
                d.error = Some(e.clone());
            }
            fx.error(e);
        }
    }
    Vec::new()
}

/// Keeps the cursor on a revision.
pub fn on_catalog(p: &mut Publisher, ctx: &Ctx) {
    let catalog = ctx.catalog.clone();
    if let PublisherView::Api(v) = &mut p.view {
        let n = catalog.revisions_of(&v.api_id).len();
        v.deployments.cursor = v.deployments.cursor.min(n.saturating_sub(1));
    }
}

/// Draws the page (and the dialog over it).
pub fn draw(ctx: &Ctx, api: &Api, view: &ApiView, frame: &mut Frame, area: Rect, focused: bool) {
    let theme = ctx.theme;
    let [body, foot] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    let revisions = ctx.catalog.revisions_of(&api.id);
    let deployments = ctx.catalog.deployments_of(&api.id);
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("Revisions: {} of {MAX_REVISIONS}   ", revisions.len()),
            theme.muted(),
        ),
        Span::styled("n", theme.key()),
        Span::styled(" Deploy New Revision", theme.muted()),
    ])];
    if revisions.is_empty() {
        lines.push(Line::from(Span::styled(
            "  No revisions yet. Press n to snapshot the API and deploy it to the gateway.",
            theme.text(),
        )));
    }
    for (i, rev) in revisions.iter().enumerate() {
        let selected = i == view.deployments.cursor;
        let style = if selected && focused && view.deployments.dialog.is_none() {
            theme.selection()
        } else {
            theme.text()
        };
        let deps: Vec<String> = deployments
            .iter()
            .filter(|d| d.revision_id == rev.id)
            .map(|d| format!("{} ({})", d.environment, d.vhost))
            .collect();
        let (where_, where_style) = if deps.is_empty() {
            ("not deployed".to_string(), theme.muted())
        } else {
            (format!("deployed: {}", deps.join(", ")), theme.ok())
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("{}{:<12}", marker(selected), rev.display_name()),
                style,
            ),
            Span::styled(format!(" {} ", clock(rev.created_at)), theme.muted()),
            Span::styled(where_, where_style),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), body);
    frame.render_widget(
        hints(
            theme,
            &[
                ("n", "new"),
                ("Enter", "deploy"),
                ("u", "undeploy"),
                ("r", "restore"),
                ("x", "delete"),
            ],
        ),
        foot,
    );
    if let Some(d) = &view.deployments.dialog {
        draw_dialog(ctx, api, d, frame, area);
    }
}

fn draw_dialog(ctx: &Ctx, api: &Api, d: &DeployDialog, frame: &mut Frame, area: Rect) {
    let theme = ctx.theme;
    let title = match &d.revision {
        None => "Deploy New Revision".to_string(),
        Some((_, n)) => format!("Deploy Revision {n}"),
    };
    let height = u16::try_from(d.envs.len()).unwrap_or(1) + 7;
    let rect = centered(area, 64, height);
    frame.render_widget(Clear, rect);
    let outer = block(theme, &title, true);
    let inner = outer.inner(rect);
    frame.render_widget(outer, rect);
    let mut lines = vec![Line::from(Span::styled(
        format!("Gateway environments for {}:", api.handle()),
        theme.muted(),
    ))];
    for (i, env) in d.envs.iter().enumerate() {
        let selected = i == d.row;
        let style = if selected {
            theme.selection()
        } else {
            theme.text()
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    "{}{} {:<24}",
                    marker(selected),
                    checkbox(env.checked),
                    env.name
                ),
                style,
            ),
            Span::styled(" vhost ", theme.muted()),
            Span::styled(format!("< {} >", env.vhost), theme.accent()),
        ]));
    }
    lines.push(Line::from(""));
    let selected = d.row == d.envs.len();
    let label = if d.busy {
        "[ Deploying... ]"
    } else {
        "[ Deploy ]"
    };
    lines.push(Line::from(Span::styled(
        format!("{}{label}", marker(selected)),
        if selected {
            theme.selection()
        } else {
            theme.accent()
        },
    )));
    if let Some(e) = &d.error {
        lines.push(Line::from(Span::styled(format!("! {e}"), theme.error())));
    } else {
        lines.push(Line::from(""));
    }
    lines.push(hints(
        theme,
        &[("Space", "tick"), ("Enter", "deploy"), ("Esc", "cancel")],
    ));
    frame.render_widget(Paragraph::new(lines), inner);
}
