//! Developer Portal > the Subscription & Key Generation Wizard: create an application,
//! subscribe it with a plan, generate keys, generate an access token, copy the token (and
//! the ready-to-paste curl command).

use super::portal::Portal;
use crate::catalog::{Api, Application, ApplicationDraft, KeyType, Subscription};
use crate::tui::action::{Action, Command, KeysInfo, TokenInfo};
use crate::tui::input::TextInput;
use crate::tui::screen::{Ctx, Effect, Effects};
use crate::tui::screens::live::LineKind;
use crate::tui::state::Level;

use super::portal::PortalView;
use super::portal_api::{PortalApi, PortalPage, subscribers};

mod draw;
pub use draw::draw;

/// The wizard's steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WizardStep {
    /// Create an application.
    CreateApp,
    /// Subscribe it with a plan.
    Subscribe,
    /// Generate its consumer key and secret.
    Keys,
    /// Generate an access token.
    Token,
    /// Copy the token.
    Copy,
}

impl WizardStep {
    /// Every step, in order.
    pub const ALL: [WizardStep; 5] = [
        WizardStep::CreateApp,
        WizardStep::Subscribe,
        WizardStep::Keys,
        WizardStep::Token,
        WizardStep::Copy,
    ];

    /// The step bar's label.
    pub fn label(self) -> &'static str {
        match self {
            WizardStep::CreateApp => "Application",
            WizardStep::Subscribe => "Subscribe",
            WizardStep::Keys => "Keys",
            WizardStep::Token => "Token",
            WizardStep::Copy => "Copy",
        }
    }
}

/// Rows of the first step.
const NAME_ROW: usize = 0;
const POLICY_ROW: usize = 1;
const DESCRIPTION_ROW: usize = 2;
const NEXT_ROW: usize = 3;

/// The wizard's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wizard {
    /// The API being subscribed to.
    pub api_id: String,
    /// The current step.
    pub step: WizardStep,
    /// The application's name.
    pub name: TextInput,
    /// The application policy (index into the catalog's application policies).
    pub policy: usize,
    /// The application's description.
    pub description: TextInput,
    /// The selected row of the current step.
    pub row: usize,
    /// The application, once created.
    pub app_id: Option<String>,
    /// Its name.
    pub app_name: String,
    /// The key type chosen.
    pub key_type: KeyType,
    /// The keys, once generated.
    pub keys: Option<KeysInfo>,
    /// Token validity in seconds.
    pub validity: TextInput,
    /// The token, once generated.
    pub token: Option<TokenInfo>,
    /// Waiting for control.
    pub busy: bool,
    /// What control said when it refused.
    pub error: Option<String>,
    /// Scroll of the last step.
    pub scroll: usize,
}

/// Opens the wizard for an API that may be subscribed to.
pub fn open(p: &mut Portal, ctx: &Ctx, fx: &mut Effects, api: &Api) -> Vec<Command> {
    // Every step's command would be refused (`App::refusal`): say so before any typing.
    if !ctx.config.can_subscribe() {
        fx.error(format!(
            "{} cannot create applications or subscribe: that needs the subscriber role",
            ctx.config.principal.user
        ));
        return Vec::new();
    }
    if !api.lifecycle.accepts_subscriptions() {
        fx.error(format!(
            "{} is {}: only Published or Pre-Released APIs can be subscribed to",
            api.handle(),
            api.lifecycle.label()
        ));
        return Vec::new();
    }
    let policy = ctx
        .catalog
        .application_policies
        .iter()
        .position(|p| p.name == "Unlimited")
        .unwrap_or(0);
    p.view = PortalView::Wizard(Box::new(Wizard {
        api_id: api.id.clone(),
        step: WizardStep::CreateApp,
        name: TextInput::new(),
        policy,
        description: TextInput::new(),
        row: NAME_ROW,
        app_id: None,
        app_name: String::new(),
        key_type: KeyType::Production,
        keys: None,
        validity: TextInput::digits("3600"),
        token: None,
        busy: false,
        error: None,
        scroll: 0,
    }));
    Vec::new()
}

fn wizard(p: &mut Portal) -> Option<&mut Wizard> {
    match &mut p.view {
        PortalView::Wizard(w) => Some(w),
        _ => None,
    }
}

/// Whether a text field of the wizard has the keyboard.
pub fn is_typing(p: &Portal) -> bool {
    match &p.view {
        PortalView::Wizard(w) => match w.step {
            WizardStep::CreateApp => w.row == NAME_ROW || w.row == DESCRIPTION_ROW,
            WizardStep::Token => true,
            _ => false,
        },
        _ => false,
    }
}

/// The wizard's letter keys (outside text fields).
pub fn keymap(p: &Portal, c: char) -> Option<Action> {
    let PortalView::Wizard(w) = &p.view else {
        return None;
    };
    match (w.step, c) {
        (WizardStep::Copy, 'c') => Some(Action::CopyToken),
        (WizardStep::Copy, 'y') => Some(Action::CopyCurl),
        _ => None,
    }
}

/// Keys, for help.
pub fn keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Enter", "next field / run the step"),
        ("Up/Down", "move between fields or choices"),
        ("Left/Right", "change the quota policy (step 1)"),
        ("c", "copy the token (last step, OSC 52)"),
        ("y", "copy the curl command (last step)"),
        ("j/k", "scroll the last step"),
        ("Esc", "leave the wizard (what was made stays)"),
    ]
}

/// The wizard's part of `update`.
pub fn update(p: &mut Portal, ctx: &Ctx, fx: &mut Effects, action: Action) -> Vec<Command> {
    let catalog = ctx.catalog.clone();
    let Some(w) = wizard(p) else {
        return Vec::new();
    };
    let Some(api) = catalog.apis.get(&w.api_id).cloned() else {
        return Vec::new();
    };
    if matches!(action, Action::Back) {
        let page = if w.step == WizardStep::Copy {
            PortalPage::TryIt
        } else {
            PortalPage::Subscriptions
        };
        finish(p, ctx, &api, page);
        return Vec::new();
    }
    if w.busy {
        return Vec::new();
    }
    match w.step {
        WizardStep::CreateApp => {
            let policies = &catalog.application_policies;
            match action {
                Action::Up => w.row = w.row.saturating_sub(1),
                Action::Down => w.row = (w.row + 1).min(NEXT_ROW),
                Action::Left if w.row == POLICY_ROW => {
                    w.policy = (w.policy + policies.len().max(1) - 1) % policies.len().max(1);
                }
                Action::Right | Action::Toggle if w.row == POLICY_ROW => {
                    w.policy = (w.policy + 1) % policies.len().max(1);
                }
                Action::Enter if w.row < NEXT_ROW => w.row += 1,
                Action::Enter => {
                    let draft = ApplicationDraft {
                        name: w.name.value().trim().to_string(),
                        throttling_policy: policies
                            .get(w.policy)
                            .map(|p| p.name.clone())
                            .unwrap_or_default(),
                        description: w.description.value().to_string(),
                    };
                    if draft.name.is_empty() {
                        w.error = Some("Give the application a name".to_string());
                        w.row = NAME_ROW;
                        return Vec::new();
                    }
                    // An application of that name already exists: the wizard goes on with
                    // it (as WSO2's Subscribe with an existing application), instead of
                    // refusing the name.
                    if let Some(existing) = catalog
                        .applications
                        .values()
                        .find(|a| a.name.eq_ignore_ascii_case(&draft.name))
                    {
                        go_on_with(w, &catalog, &api, fx, existing);
                        return Vec::new();
                    }
                    w.busy = true;
                    w.error = None;
                    return vec![Command::CreateApplication(draft)];
                }
                other => {
                    let input = match w.row {
                        NAME_ROW => &mut w.name,
                        DESCRIPTION_ROW => &mut w.description,
                        _ => return Vec::new(),
                    };
                    edit(input, other);
                    w.error = None;
                }
            }
        }
        WizardStep::Subscribe => match action {
            Action::Up => w.row = w.row.saturating_sub(1),
            Action::Down => w.row = (w.row + 1).min(api.policies.len().saturating_sub(1)),
            Action::Enter | Action::Toggle => {
                if let (Some(app_id), Some(plan)) = (w.app_id.clone(), api.policies.get(w.row)) {
                    w.busy = true;
                    w.error = None;
                    return vec![Command::Subscribe {
                        app_id,
                        api_id: api.id.clone(),
                        plan: plan.clone(),
                    }];
                }
            }
            _ => {}
        },
        WizardStep::Keys => match action {
            Action::Up => w.key_type = KeyType::Production,
            Action::Down => w.key_type = KeyType::Sandbox,
            Action::Toggle => {
                w.key_type = match w.key_type {
                    KeyType::Production => KeyType::Sandbox,
                    KeyType::Sandbox => KeyType::Production,
                }
            }
            Action::Enter => {
                if let Some(app_id) = w.app_id.clone() {
                    w.busy = true;
                    w.error = None;
                    return vec![Command::GenerateKeys {
                        app_id,
                        key_type: w.key_type,
                    }];
                }
            }
            _ => {}
        },
        WizardStep::Token => match action {
            Action::Enter => {
                let text = w.validity.value().trim();
                let max = crate::keys::MAX_VALIDITY_SECS;
                let validity = match text.parse::<i64>() {
                    Ok(v) if v > max => {
                        w.error = Some(format!("The validity is too large: at most {max} s"));
                        return Vec::new();
                    }
                    Ok(v) if v > 0 => v,
                    Err(_) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                        w.error = Some(format!("The validity is too large: at most {max} s"));
                        return Vec::new();
                    }
                    _ => {
                        w.error =
                            Some("The validity must be a positive number of seconds".to_string());
                        return Vec::new();
                    }
                };
                if let Some(app_id) = w.app_id.clone() {
                    w.busy = true;
                    w.error = None;
                    return vec![Command::GenerateToken {
                        app_id,
                        key_type: w.key_type,
                        validity_secs: validity,
                    }];
                }
            }
            other => edit(&mut w.validity, other),
        },
        WizardStep::Copy => match action {
            Action::Up => w.scroll = w.scroll.saturating_sub(1),
            Action::Down => w.scroll = (w.scroll + 1).min(30),
            Action::PageUp => w.scroll = w.scroll.saturating_sub(10),
            Action::PageDown => w.scroll = (w.scroll + 10).min(30),
            Action::CopyToken | Action::CopyCurl => {
                if let Some(token) = w.token.clone() {
                    if matches!(action, Action::CopyCurl) {
                        fx.push(Effect::TokenCopied);
                        return vec![Command::Copy(ctx.curl_command(&api, &token.access_token))];
                    }
                    fx.copy_token(&token.access_token);
                    return Vec::new();
                }
            }
            Action::Enter => {
                finish(p, ctx, &api, PortalPage::TryIt);
                fx.status(
                    Level::Ok,
                    "Done. Press t (or Enter) to try the API: its events stream into the live pane",
                );
            }
            _ => {}
        },
    }
    Vec::new()
}

/// Step 1 named an existing application: the wizard goes on with it, to Subscribe, or to
/// Keys when it is subscribed to `api` already.
fn go_on_with(
    w: &mut Wizard,
    catalog: &crate::control::Snapshot,
    api: &Api,
    fx: &mut Effects,
    existing: &Application,
) {
    w.app_id = Some(existing.id.clone());
    w.app_name = existing.name.clone();
    w.error = None;
    w.row = 0;
    let subscribed = catalog
        .subscriptions_of_app(&existing.id)
        .into_iter()
        .find(|s| s.api_id == api.id);
    let text = match subscribed {
        Some(sub) => {
            w.step = WizardStep::Keys;
            format!(
                "Using the existing application {}, already subscribed (plan {}): generate \
                 its keys",
                existing.name, sub.policy
            )
        }
        None => {
            w.step = WizardStep::Subscribe;
            format!(
                "Using the existing application {} (its policy stays {})",
                existing.name, existing.throttling_policy
            )
        }
    };
    fx.status(Level::Ok, text);
}

fn edit(input: &mut TextInput, action: Action) {
    input.edit(&action);
}

/// Leaves the wizard for the API's page, with its application selected.
fn finish(p: &mut Portal, ctx: &Ctx, api: &Api, page: PortalPage) {
    let app_id = wizard(p).and_then(|w| w.app_id.clone());
    let mut view = PortalApi::new(&api.id, page);
    if let Some(app_id) = app_id {
        view.cursor = subscribers(ctx, &api.id)
            .iter()
            .position(|(a, _)| a.id == app_id)
            .unwrap_or(0);
    }
    p.view = PortalView::Api(view);
}

/// Control answered `CreateApplication`.
pub fn on_app_created(
    p: &mut Portal,
    fx: &mut Effects,
    result: Result<Application, String>,
) -> Vec<Command> {
    match result {
        Ok(created) => {
            fx.log(
                LineKind::Info,
                format!("created application {}", created.name),
            );
            fx.status(Level::Ok, format!("Created application {}", created.name));
            if let Some(w) = wizard(p) {
                w.busy = false;
                w.app_id = Some(created.id);
                w.app_name = created.name;
                w.step = WizardStep::Subscribe;
                w.row = 0;
            }
        }
        Err(e) => fail(p, fx, e),
    }
    Vec::new()
}

/// Control answered `Subscribe`.
pub fn on_subscribed(
    p: &mut Portal,
    fx: &mut Effects,
    result: Result<Subscription, String>,
) -> Vec<Command> {
    match result {
        Ok(sub) => {
            let text = format!("Subscribed with plan {}", sub.policy);
            fx.log(LineKind::Info, text.clone());
            fx.status(Level::Ok, text);
            if let Some(w) = wizard(p) {
                w.busy = false;
                w.step = WizardStep::Keys;
                w.row = 0;
            }
        }
        Err(e) => fail(p, fx, e),
    }
    Vec::new()
}

/// Control answered `GenerateKeys`.
pub fn on_keys(
    p: &mut Portal,
    fx: &mut Effects,
    app_id: &str,
    result: Result<(KeysInfo, TokenInfo), String>,
) -> Vec<Command> {
    match result {
        Ok((keys, _)) => {
            fx.status(
                Level::Ok,
                format!("Generated {} keys", keys.key_type.as_str().to_lowercase()),
            );
            if let Some(w) = wizard(p)
                && w.app_id.as_deref() == Some(app_id)
            {
                w.busy = false;
                w.keys = Some(keys);
                w.step = WizardStep::Token;
            }
        }
        Err(e) => fail(p, fx, e),
    }
    Vec::new()
}

/// Control answered `GenerateToken`.
pub fn on_token(
    p: &mut Portal,
    ctx: &Ctx,
    fx: &mut Effects,
    app_id: &str,
    result: Result<TokenInfo, String>,
) -> Vec<Command> {
    match result {
        Ok(token) => {
            let in_wizard = match wizard(p) {
                Some(w) if w.app_id.as_deref() == Some(app_id) => {
                    w.busy = false;
                    w.token = Some(token);
                    w.step = WizardStep::Copy;
                    true
                }
                _ => false,
            };
            let name = ctx
                .catalog
                .applications
                .get(app_id)
                .map(|a| a.name.clone())
                .unwrap_or_default();
            fx.status(
                Level::Ok,
                if in_wizard {
                    "Access token ready: c copies it, y copies the curl command, Enter finishes"
                        .to_string()
                } else {
                    format!("New access token for {name}: c copies it, t tries the API")
                },
            );
        }
        Err(e) => fail(p, fx, e),
    }
    Vec::new()
}

fn fail(p: &mut Portal, fx: &mut Effects, e: String) {
    if let Some(w) = wizard(p) {
        w.busy = false;
        w.error = Some(e.clone());
    }
    fx.error(e);
}
