//! The guided tutorial: WSO2's "Create and Publish a Server Sent Events API" as a
//! checklist that ticks itself from the real state and says what to press next.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::catalog::{Api, LifecycleState, Role};
use crate::tui::action::{Action, Command};
use crate::tui::screen::{Ctx, Effect, Effects, Nav, Screen};
use crate::tui::state::display_host;
use crate::tui::widgets::{block, checkbox, hints, marker};

use super::portal_api::PortalPage;
use super::publisher::ApiPage;
use super::{ScreenId, move_cursor};

/// The tutorial's sample values (Step 1).
pub const SAMPLE_NAME: &str = "Observer";
/// The sample context.
pub const SAMPLE_CONTEXT: &str = "/observer";
/// The sample version.
pub const SAMPLE_VERSION: &str = "1.0.0";

/// The sample endpoint: where the memory backend listens (`http://localhost:8080`).
pub fn sample_endpoint(ctx: &Ctx) -> String {
    format!("http://{}", display_host(ctx.config.backend_addr))
}

/// The tutorial tab's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tutorial {
    /// The selected step.
    pub cursor: usize,
}

impl Screen for Tutorial {
    fn id(&self) -> ScreenId {
        ScreenId::Tutorial
    }

    fn help(&self) -> (&'static str, Vec<(&'static str, &'static str)>) {
        ("Tutorial", keys())
    }

    fn keymap(&self, _c: char) -> Option<Action> {
        None
    }

    fn update(&mut self, ctx: &Ctx, action: Action) -> Effects {
        let mut fx = Effects::none();
        let commands = update(self, ctx, &mut fx, action);
        fx.commands(commands);
        fx
    }

    fn draw(&self, ctx: &Ctx, frame: &mut Frame, area: Rect) {
        draw(self, ctx, frame, area, ctx.focused);
    }
}

/// One step: a title and what to press.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What the step achieves.
    pub title: &'static str,
    /// The keys, in words.
    pub how: String,
}

/// The role step `step` (0-based) needs: designing the API and its plans take the
/// creator role, publishing and deploying the publisher role, the application, keys and
/// token the subscriber role (as the Developer Portal's routes do); starting the memory
/// backend and invoking the API (any valid token does) none.
pub fn role_needed(step: usize) -> Option<Role> {
    match step {
        0 | 1 => Some(Role::Creator),
        2 | 3 => Some(Role::Publisher),
        5 | 6 => Some(Role::Subscriber),
        _ => None,
    }
}

/// The role step `step` needs that the signed-in user does not hold, if any.
fn missing_role(ctx: &Ctx, step: usize) -> Option<Role> {
    role_needed(step).filter(|r| !ctx.config.has_role(*r))
}

/// The steps, in the tutorial's order; a step whose role the signed-in user does not hold
/// says so first, and how to sign in as a user who does.
pub fn steps(ctx: &Ctx) -> Vec<Step> {
    let mut steps = sample_steps(ctx);
    let user = &ctx.config.principal.user;
    for (i, step) in steps.iter_mut().enumerate() {
        if let Some(role) = missing_role(ctx, i) {
            step.how = format!(
                "{user} cannot do this step: it needs the {role} role. Start streamgate with \
                 --user NAME as a user who holds it (an admin adds users on Admin > Users). \
                 The step: {}",
                step.how,
                role = role.as_str(),
            );
        }
    }
    steps
}

/// The steps as the tutorial gives them, for a user holding every role.
fn sample_steps(ctx: &Ctx) -> Vec<Step> {
    let gateway = ctx
        .config
        .gateway_host()
        .unwrap_or_else(|| "localhost:8280".to_string());
    let endpoint = sample_endpoint(ctx);
    vec![
        Step {
            title: "Design the SSE API",
            how: format!(
                "Press 1 (Publisher), then n (Create API). Enter on Streaming API, Enter on SSE API. \
                 Type Name {SAMPLE_NAME}, Context {SAMPLE_CONTEXT}, Version {SAMPLE_VERSION}, \
                 Endpoint {endpoint} (Enter moves to the next field), then Enter on [ Create ]."
            ),
        },
        Step {
            title: "Attach the AsyncGold plan",
            how: "On the API's pages press l to reach Business Plans, move to AsyncGold with j, \
                  tick it with Space and press s to save."
                .to_string(),
        },
        Step {
            title: "Publish the API",
            how: "Press l to reach Lifecycle, select Publish, press Enter and confirm with y."
                .to_string(),
        },
        Step {
            title: "Deploy a new revision",
            how:
                "Press l to reach Deployments, press n (Deploy New Revision), tick Production and \
                  Sandbox with Space (vhost localhost), then Enter deploys. \
                  (Many clients on one stream? First press b on the Overview: Backend stream \
                  shared, one backend connection for all subscribers.)"
                    .to_string(),
        },
        Step {
            title: "Start the SSE server",
            how: "Press 3 (Servers). Time 5000 and Interval 1000 are the tutorial's values \
                  (--time=5000 --interval=1000); press s to start the memory backend."
                .to_string(),
        },
        Step {
            title: "Subscribe and get a token",
            how: "Press 2 (Dev Portal), Enter on the API, l to Subscriptions, w for the \
                  SUBSCRIPTION & KEY GENERATION WIZARD. Name an application and press Enter \
                  through each step: subscribe, generate keys, generate access token."
                .to_string(),
        },
        Step {
            title: "Copy the access token",
            how: "On the wizard's last step press c to copy the token (y copies the whole curl \
                  command; copying uses OSC 52, which works over SSH), then Enter to finish. \
                  Later, c copies it on the API's Try it page too."
                .to_string(),
        },
        Step {
            title: "Invoke the API",
            how: format!(
                "Press t on the API's Try it page: the events stream into the live pane below. \
                 Or paste in another shell: curl -N http://{gateway}/observer/1.0.0/memory \
                 -H \"Authorization: Bearer <token>\" and watch the gateway log it here. \
                 Then Tab to the live pane and press v: the memory's used bytes as a live \
                 chart (n: the next field, e.g. available; v: back to the lines)."
            ),
        },
    ]
}

/// The API the tutorial follows: the sample one if it exists, else the first.
pub fn tutorial_api<'a>(ctx: &Ctx<'a>) -> Option<&'a Api> {
    let apis = ctx.catalog.apis_sorted();
    apis.iter()
        .find(|a| a.context == SAMPLE_CONTEXT && a.version == SAMPLE_VERSION)
        .or_else(|| apis.first())
        .copied()
}

/// Which steps are done, from the real state.
pub fn progress(ctx: &Ctx) -> [bool; 8] {
    let mut done = [false; 8];
    done[4] = ctx.backend_running;
    done[6] = ctx.session.token_copied;
    let Some(api) = tutorial_api(ctx) else {
        return done;
    };
    done[0] = true;
    done[1] = api.policies.iter().any(|p| p == "AsyncGold");
    done[2] = matches!(
        api.lifecycle,
        LifecycleState::Published | LifecycleState::Deprecated
    );
    done[3] = !ctx.catalog.deployments_of(&api.id).is_empty();
    done[5] = ctx
        .catalog
        .subscriptions_of_api(&api.id)
        .iter()
        .any(|s| ctx.session.tokens.contains_key(&s.application_id));
    done[7] = ctx
        .session
        .events_by_api
        .get(&api.handle())
        .is_some_and(|n| *n > 0);
    done
}

/// The first step not done, if any.
pub fn next_step(ctx: &Ctx) -> Option<usize> {
    progress(ctx).iter().position(|d| !d)
}

/// One line for the status bar: the next step and where to read how.
pub fn hint(ctx: &Ctx) -> Option<String> {
    let next = next_step(ctx)?;
    let steps = steps(ctx);
    Some(format!(
        "Tutorial {}/8: {} - press 4 for how",
        next + 1,
        steps[next].title
    ))
}

/// Keys, for help.
pub fn keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("j/k", "select a step"),
        ("Enter", "take me there"),
        ("1 2 3", "Publisher, Dev Portal, Servers"),
    ]
}

/// The tutorial's part of `update`.
pub fn update(t: &mut Tutorial, ctx: &Ctx, fx: &mut Effects, action: Action) -> Vec<Command> {
    if move_cursor(&mut t.cursor, 8, &action) {
        return Vec::new();
    }
    if matches!(action, Action::Enter) {
        go_to_step(ctx, fx, t.cursor);
    }
    Vec::new()
}

/// Opens the screen where a step is done; for a step whose role the signed-in user does
/// not hold, says so instead.
pub fn go_to_step(ctx: &Ctx, fx: &mut Effects, step: usize) {
    if let Some(role) = missing_role(ctx, step) {
        let title = sample_steps(ctx)
            .get(step)
            .map(|s| s.title)
            .unwrap_or_default();
        fx.error(format!(
            "{} cannot do step {} ({title}): it needs the {} role",
            ctx.config.principal.user,
            step + 1,
            role.as_str()
        ));
        return;
    }
    let api_id = tutorial_api(ctx).map(|a| a.id.clone());
    let nav = match (step, api_id) {
        (0, _) | (_, None) if step < 4 => Nav::CreateApi,
        (1..=3, Some(api_id)) => {
            let page = match step {
                1 => ApiPage::Plans,
                2 => ApiPage::Lifecycle,
                _ => ApiPage::Deployments,
            };
            Nav::PublisherApi { api_id, page }
        }
        (4, _) => Nav::Servers,
        (5 | 6, Some(api_id)) => Nav::PortalApi {
            api_id,
            page: PortalPage::Subscriptions,
            keep_wizard: true,
        },
        (7, Some(api_id)) => Nav::PortalApi {
            api_id,
            page: PortalPage::TryIt,
            keep_wizard: false,
        },
        _ => Nav::Portal,
    };
    fx.push(Effect::Navigate(nav));
}

/// Draws the checklist and how to do the selected step.
pub fn draw(t: &Tutorial, ctx: &Ctx, frame: &mut Frame, area: Rect, focused: bool) {
    let theme = ctx.theme;
    let done = progress(ctx);
    let count = done.iter().filter(|d| **d).count();
    let title = format!("Tutorial: Create and Publish an SSE API ({count}/8 done)");
    let outer = block(theme, &title, focused);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let [body, foot] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    let [list, detail] =
        Layout::horizontal([Constraint::Length(37), Constraint::Min(10)]).areas(body);
    let steps = steps(ctx);
    let next = next_step(ctx);
    let mut lines = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let selected = i == t.cursor;
        let style = if selected && focused {
            theme.selection()
        } else if done[i] {
            theme.ok()
        } else if Some(i) == next {
            theme.warning()
        } else {
            theme.text()
        };
        lines.push(Line::from(Span::styled(
            format!(
                "{}{} {}. {}",
                marker(selected),
                checkbox(done[i]),
                i + 1,
                step.title
            ),
            style,
        )));
    }
    if count == 8 {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            "  All done - well streamed!",
            theme.ok(),
        )));
    }
    frame.render_widget(Paragraph::new(lines), list);
    let shown = t.cursor.min(steps.len() - 1);
    let step = &steps[shown];
    let status = if done[shown] {
        Span::styled("done", theme.ok())
    } else if Some(shown) == next {
        Span::styled("next", theme.warning())
    } else {
        Span::styled("to do", theme.muted())
    };
    let text = vec![
        Line::from(vec![
            Span::styled(format!("Step {}: ", shown + 1), theme.title()),
            status,
        ]),
        Line::from(Span::styled(step.how.clone(), theme.text())),
    ];
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), detail);
    frame.render_widget(
        hints(
            theme,
            &[
                ("j/k", "step"),
                ("Enter", "take me there"),
                ("Tab", "live pane"),
            ],
        ),
        foot,
    );
}
