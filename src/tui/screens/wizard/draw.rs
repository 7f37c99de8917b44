//! Drawing the Subscription & Key Generation Wizard: the step bar, each step's body and
//! its keys.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{DESCRIPTION_ROW, NAME_ROW, NEXT_ROW, POLICY_ROW, Wizard, WizardStep};
use crate::catalog::KeyType;
use crate::tui::screen::Ctx;
use crate::tui::widgets::{block, field, hints, marker, radio, wrap_chars};

/// Draws the wizard.
pub fn draw(ctx: &Ctx, w: &Wizard, frame: &mut Frame, area: Rect, focused: bool) {
    let theme = ctx.theme;
    let Some(api) = ctx.api(&w.api_id) else {
        return;
    };
    let title = format!(
        "Subscription & Key Generation Wizard - {} {}",
        api.name, api.version
    );
    let outer = block(theme, &title, focused);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let [bar, body, error, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let mut spans = Vec::new();
    for (i, step) in WizardStep::ALL.iter().enumerate() {
        let (mark, style) = if *step < w.step {
            ("[x]", theme.ok())
        } else if *step == w.step {
            ("[>]", theme.tab_active())
        } else {
            ("[ ]", theme.muted())
        };
        spans.push(Span::styled(
            format!("{mark} {} {}", i + 1, step.label()),
            style,
        ));
        spans.push(Span::raw("  "));
    }
    frame.render_widget(Line::from(spans), bar);
    if let Some(e) = &w.error {
        frame.render_widget(
            Line::from(Span::styled(format!("! {e}"), theme.error())),
            error,
        );
    } else if w.busy {
        frame.render_widget(Line::from(Span::styled("Working...", theme.muted())), error);
    }
    let foot_hints: &[(&str, &str)] = match w.step {
        WizardStep::CreateApp => &[("Enter", "next"), ("Left/Right", "quota"), ("Esc", "leave")],
        WizardStep::Subscribe => &[("j/k", "plan"), ("Enter", "subscribe"), ("Esc", "leave")],
        WizardStep::Keys => &[
            ("j/k", "key type"),
            ("Enter", "generate keys"),
            ("Esc", "leave"),
        ],
        WizardStep::Token => &[("Enter", "generate access token"), ("Esc", "leave")],
        WizardStep::Copy => &[
            ("c", "copy token"),
            ("y", "copy curl"),
            ("j/k", "scroll"),
            ("Enter", "finish"),
        ],
    };
    frame.render_widget(hints(theme, foot_hints), foot);
    match w.step {
        WizardStep::CreateApp => draw_create(ctx, w, frame, body, focused),
        WizardStep::Subscribe => {
            let mut lines = vec![Line::from(Span::styled(
                format!(
                    "Subscribe {} to {} with a business plan:",
                    w.app_name,
                    api.handle()
                ),
                theme.text(),
            ))];
            for (i, plan) in api.policies.iter().enumerate() {
                let selected = i == w.row;
                let quota = ctx
                    .catalog
                    .subscription_policy(plan)
                    .map(|p| p.quota.describe())
                    .unwrap_or_default();
                lines.push(Line::from(vec![
                    Span::styled(
                        format!("{}{} {:<16}", marker(selected), radio(selected), plan),
                        if selected && focused {
                            theme.selection()
                        } else {
                            theme.text()
                        },
                    ),
                    Span::styled(format!(" {quota}"), theme.accent()),
                ]));
            }
            frame.render_widget(Paragraph::new(lines), body);
        }
        WizardStep::Keys => {
            let mut lines = vec![Line::from(Span::styled(
                format!(
                    "Generate the OAuth keys (consumer key and secret) of {}:",
                    w.app_name
                ),
                theme.text(),
            ))];
            for kt in [KeyType::Production, KeyType::Sandbox] {
                let selected = kt == w.key_type;
                lines.push(Line::from(Span::styled(
                    format!("{}{} {}", marker(selected), radio(selected), kt.as_str()),
                    if selected && focused {
                        theme.selection()
                    } else {
                        theme.text()
                    },
                )));
            }
            lines.push(Line::from(vec![
                Span::styled("Grant type  ", theme.muted()),
                Span::styled("client_credentials", theme.accent()),
            ]));
            let has_keys = w.app_id.as_deref().is_some_and(|id| {
                ctx.catalog
                    .keys_of(id)
                    .iter()
                    .any(|k| k.key_type == w.key_type)
            });
            if has_keys {
                lines.push(Line::from(Span::styled(
                    format!(
                        "It has {} keys already: new ones replace them.",
                        w.key_type.as_str().to_lowercase()
                    ),
                    theme.warning(),
                )));
            }
            frame.render_widget(Paragraph::new(lines), body);
        }
        WizardStep::Token => {
            let mut lines = Vec::new();
            if let Some(k) = &w.keys {
                lines.push(Line::from(vec![
                    Span::styled("Consumer key     ", theme.muted()),
                    Span::styled(k.consumer_key.clone(), theme.accent()),
                ]));
                lines.push(Line::from(vec![
                    Span::styled("Consumer secret  ", theme.muted()),
                    Span::styled(k.consumer_secret.clone(), theme.accent()),
                ]));
                lines.push(Line::from(Span::styled(
                    "(the secret is shown only now; the token endpoint is POST /oauth2/token)",
                    theme.muted(),
                )));
            }
            lines.push(Line::from(""));
            let n = lines.len() as u16;
            frame.render_widget(Paragraph::new(lines), body);
            if body.height > n {
                let r = Rect::new(body.x, body.y + n, body.width, 1);
                field(
                    frame,
                    theme,
                    r,
                    "Validity (s)",
                    17,
                    &w.validity,
                    focused,
                    focused,
                );
            }
        }
        WizardStep::Copy => {
            let width = usize::from(body.width.max(1));
            let mut lines = Vec::new();
            if let Some(t) = &w.token {
                lines.push(Line::from(Span::styled(
                    format!(
                        "Access token ({}, valid {} s) - c copies it:",
                        t.key_type.as_str(),
                        t.expires_in
                    ),
                    theme.muted(),
                )));
                for piece in wrap_chars(&t.access_token, width) {
                    lines.push(Line::from(Span::styled(piece, theme.accent())));
                }
                lines.push(Line::from(Span::styled(
                    "Call the API from another shell - y copies this curl command:",
                    theme.muted(),
                )));
                for piece in wrap_chars(&ctx.curl_command(api, &t.access_token), width) {
                    lines.push(Line::from(Span::styled(piece, theme.text())));
                }
            }
            // The subscription's quota gauge, once the runtime has fed one.
            let sub = w.app_id.as_deref().and_then(|app_id| {
                ctx.catalog
                    .subscriptions_of_app(app_id)
                    .into_iter()
                    .find(|s| s.api_id == w.api_id)
            });
            lines.extend(sub.and_then(|s| {
                crate::tui::charts::quota_gauge(
                    ctx.analytics,
                    theme,
                    Span::styled("Quota ", theme.muted()),
                    &s.id,
                    20,
                    ctx.clock_ms(),
                )
            }));
            let max = lines.len().saturating_sub(usize::from(body.height));
            let scroll = u16::try_from(w.scroll.min(max)).unwrap_or(0);
            frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), body);
        }
    }
}

fn draw_create(ctx: &Ctx, w: &Wizard, frame: &mut Frame, area: Rect, focused: bool) {
    let theme = ctx.theme;
    const LABEL: u16 = 15;
    let row = |i: u16| Rect::new(area.x, area.y + i, area.width, 1);
    if area.height < 6 {
        return;
    }
    frame.render_widget(
        Line::from(Span::styled(
            "Create an application: it holds the keys and the subscriptions.",
            theme.text(),
        )),
        row(0),
    );
    let sel = |r: usize| focused && w.row == r;
    field(
        frame,
        theme,
        row(1),
        "Name*",
        LABEL,
        &w.name,
        sel(NAME_ROW),
        sel(NAME_ROW),
    );
    let policy = ctx.catalog.application_policies.get(w.policy);
    let style = if sel(POLICY_ROW) {
        theme.selection()
    } else {
        theme.accent()
    };
    frame.render_widget(
        Line::from(vec![
            Span::styled(
                format!("{}{:<13}", marker(sel(POLICY_ROW)), "Quota"),
                if sel(POLICY_ROW) {
                    theme.accent()
                } else {
                    theme.text()
                },
            ),
            Span::styled(
                format!("< {} >", policy.map(|p| p.name.as_str()).unwrap_or("?")),
                style,
            ),
            Span::styled(
                format!("  {}", policy.map(|p| p.description.as_str()).unwrap_or("")),
                theme.muted(),
            ),
        ]),
        row(2),
    );
    field(
        frame,
        theme,
        row(3),
        "Description",
        LABEL,
        &w.description,
        sel(DESCRIPTION_ROW),
        sel(DESCRIPTION_ROW),
    );
    let next = sel(NEXT_ROW);
    frame.render_widget(
        Line::from(vec![
            Span::raw(format!("{:w$}", "", w = usize::from(LABEL))),
            Span::styled(
                "[ Next: create application ]",
                if next {
                    theme.selection()
                } else {
                    theme.accent()
                },
            ),
        ]),
        row(5),
    );
}
