//! Publisher > API > Overview's editors: the API's CORS configuration (issue 11, WSO2's
//! `corsConfiguration`, saved with `Control::set_api_cors`, applied after the next
//! deploy) and registering an endpoint certificate (issue 13) for an `https://` endpoint.
//! Bad input is shown inline and sends nothing.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::catalog::{Api, CorsConfiguration, validate_cors};
use crate::tls::store::endpoint_authority;
use crate::tui::action::Command;
use crate::tui::input::TextInput;
use crate::tui::screen::Ctx;
use crate::tui::widgets::{checkbox, field, hints, marker};

/// The CORS form's rows.
pub const CORS_ROWS: [&str; 5] = [
    "Enabled",
    "Origins",
    "Credentials",
    "Allow headers",
    "Allow methods",
];

/// Which editor is open on the Overview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsForm {
    /// The CORS configuration.
    Cors(CorsForm),
    /// Register a PEM file as the endpoint's certificate.
    Certificate(CertificateForm),
}

/// The CORS form: toggles and comma-separated lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsForm {
    /// `corsConfigurationEnabled`.
    pub enabled: bool,
    /// `accessControlAllowOrigins`, comma-separated.
    pub origins: TextInput,
    /// `accessControlAllowCredentials`.
    pub credentials: bool,
    /// `accessControlAllowHeaders`, comma-separated.
    pub headers: TextInput,
    /// `accessControlAllowMethods`, comma-separated.
    pub methods: TextInput,
    /// The row being edited.
    pub row: usize,
    /// Why the last save was refused.
    pub error: Option<String>,
}

fn list(input: &TextInput) -> Vec<String> {
    input
        .value()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl CorsForm {
    /// The form over an API's current configuration.
    pub fn of(api: &Api) -> Self {
        let c = &api.cors;
        CorsForm {
            enabled: c.cors_configuration_enabled,
            origins: TextInput::with_value(&c.access_control_allow_origins.join(", ")),
            credentials: c.access_control_allow_credentials,
            headers: TextInput::with_value(&c.access_control_allow_headers.join(", ")),
            methods: TextInput::with_value(&c.access_control_allow_methods.join(", ")),
            row: 0,
            error: None,
        }
    }

    /// The configuration the form describes, checked as the server checks it.
    pub fn configuration(&self) -> Result<CorsConfiguration, String> {
        let cors = CorsConfiguration {
            cors_configuration_enabled: self.enabled,
            access_control_allow_origins: list(&self.origins),
            access_control_allow_credentials: self.credentials,
            access_control_allow_headers: list(&self.headers),
            access_control_allow_methods: list(&self.methods),
        };
        validate_cors(&cors).map_err(|e| e.to_string())?;
        Ok(cors)
    }

    /// The text field of a row (`None` for the toggles).
    pub fn input(&mut self, row: usize) -> Option<&mut TextInput> {
        match row {
            1 => Some(&mut self.origins),
            3 => Some(&mut self.headers),
            4 => Some(&mut self.methods),
            _ => None,
        }
    }

    /// Flips the toggle of a row; answers whether the row is a toggle.
    pub fn toggle(&mut self, row: usize) -> bool {
        match row {
            0 => self.enabled = !self.enabled,
            2 => self.credentials = !self.credentials,
            _ => return false,
        }
        true
    }
}

/// The register-a-certificate form: an alias and a PEM file's path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateForm {
    /// The alias.
    pub alias: TextInput,
    /// The PEM file's path.
    pub path: TextInput,
    /// The row being edited (0 alias, 1 path).
    pub row: usize,
    /// Why the last attempt was refused.
    pub error: Option<String>,
}

impl CertificateForm {
    /// The command registering the file for `endpoint`, or what is wrong.
    pub fn command(&self, endpoint: &str) -> Result<Command, String> {
        let alias = self.alias.value().trim();
        if alias.is_empty() {
            return Err("alias: give the certificate a name".to_string());
        }
        let path = self.path.value().trim();
        if path.is_empty() {
            return Err("file: give the path of a PEM certificate file".to_string());
        }
        endpoint_authority(endpoint).map_err(|e| format!("endpoint: {e}"))?;
        Ok(Command::AddEndpointCertificate {
            alias: alias.to_string(),
            endpoint: endpoint.to_string(),
            path: std::path::PathBuf::from(path),
        })
    }
}

/// The API's endpoint (production, else sandbox).
pub fn endpoint_of(api: &Api) -> Option<String> {
    api.production_endpoint
        .clone()
        .or_else(|| api.sandbox_endpoint.clone())
}

/// For an `https://` endpoint: `Some(alias)` of the registered certificate trusted for
/// its host:port, `Some(None)` when none is (the platform's roots decide); `None` for
/// plain http.
pub fn endpoint_trust(ctx: &Ctx, endpoint: &str) -> Option<Option<String>> {
    if !endpoint
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    {
        return None;
    }
    let (host, port) = endpoint_authority(endpoint).ok()?;
    Some(
        ctx.catalog
            .endpoint_certificates
            .values()
            .find(|c| c.applies_to(&host, port))
            .map(|c| c.alias.clone()),
    )
}

/// One-line summary of an API's CORS for the Overview.
pub fn cors_summary(api: &Api) -> String {
    let c = &api.cors;
    if !c.cors_configuration_enabled {
        return "off: any origin (o: edit)".to_string();
    }
    let creds = if c.access_control_allow_credentials {
        ", credentials"
    } else {
        ""
    };
    format!(
        "{}{creds} (o: edit)",
        c.access_control_allow_origins.join(", ")
    )
}

/// Draws the open editor.
pub fn draw(ctx: &Ctx, form: &SettingsForm, frame: &mut Frame, area: Rect) {
    let theme = ctx.theme;
    let rows = Layout::vertical([Constraint::Length(1); 9]).split(area);
    match form {
        SettingsForm::Cors(f) => {
            frame.render_widget(
                Line::from(Span::styled(
                    "CORS (applies after the next deploy)",
                    theme.title(),
                )),
                rows[0],
            );
            for (i, label) in CORS_ROWS.iter().enumerate() {
                let selected = f.row == i;
                let area = rows[i + 1];
                match i {
                    0 | 2 => {
                        let on = if i == 0 { f.enabled } else { f.credentials };
                        let style = if selected {
                            theme.accent()
                        } else {
                            theme.text()
                        };
                        frame.render_widget(
                            Line::from(vec![
                                Span::styled(marker(selected), style),
                                Span::styled(format!("{label:<14}"), style),
                                Span::styled(checkbox(on), theme.accent()),
                            ]),
                            area,
                        );
                    }
                    _ => {
                        let input = match i {
                            1 => &f.origins,
                            3 => &f.headers,
                            _ => &f.methods,
                        };
                        field(
                            frame,
                            theme,
                            area,
                            label,
                            16,
                            input,
                            selected,
                            ctx.focused && selected,
                        );
                    }
                }
            }
            if let Some(e) = &f.error {
                frame.render_widget(
                    Paragraph::new(Span::styled(e.clone(), theme.error())),
                    rows[6],
                );
            }
            frame.render_widget(
                hints(
                    theme,
                    &[
                        ("Space", "toggle"),
                        ("Enter", "next / save"),
                        ("Esc", "cancel"),
                    ],
                ),
                rows[7],
            );
        }
        SettingsForm::Certificate(f) => {
            frame.render_widget(
                Line::from(Span::styled(
                    "Register the endpoint's certificate (PEM file)",
                    theme.title(),
                )),
                rows[0],
            );
            field(
                frame,
                theme,
                rows[1],
                "Alias",
                10,
                &f.alias,
                f.row == 0,
                ctx.focused && f.row == 0,
            );
            field(
                frame,
                theme,
                rows[2],
                "PEM file",
                10,
                &f.path,
                f.row == 1,
                ctx.focused && f.row == 1,
            );
            if let Some(e) = &f.error {
                frame.render_widget(
                    Paragraph::new(Span::styled(e.clone(), theme.error())),
                    rows[3],
                );
            }
            frame.render_widget(
                hints(theme, &[("Enter", "next / register"), ("Esc", "cancel")]),
                rows[4],
            );
        }
    }
}
