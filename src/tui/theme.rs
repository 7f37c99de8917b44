//! Themes: colours named by meaning (title, muted, ok, error, ...), loaded from TOML files
//! as partial overrides over the built-in default, with a no-colour mode for `NO_COLOR`.

use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;
use serde::Deserialize;

use super::TuiError;

/// The built-in themes, embedded so the binary works from any directory. The first is the
/// default every other theme is layered on.
pub const BUILTIN_THEMES: [(&str, &str); 3] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

/// Plain ASCII borders: every terminal has these glyphs.
const ASCII_BORDER: border::Set<'static> = border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

/// Every colour a screen may ask for, by what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    /// Screen and panel titles.
    pub title: Color,
    /// Ordinary text.
    pub text: Color,
    /// Secondary text: hints, labels, disabled items.
    pub muted: Color,
    /// Highlights that are neither good nor bad news (values, links, commands).
    pub accent: Color,
    /// Key names in hints (`q`, `Enter`).
    pub key: Color,
    /// Success, running, done.
    pub ok: Color,
    /// Needs attention but not broken.
    pub warning: Color,
    /// Failure, rejection, validation message.
    pub error: Color,
    /// Text of the selected row.
    pub selection_fg: Color,
    /// Background of the selected row.
    pub selection_bg: Color,
    /// Borders of panes without focus.
    pub border: Color,
    /// The border of the pane with focus.
    pub border_focused: Color,
    /// The active tab's name.
    pub tab_active: Color,
    /// Event payloads in the live pane.
    pub event: Color,
}

/// A theme file: every field optional, so a file may override only some colours.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: Option<String>,
    extends: Option<String>,
    glyphs: Option<String>,
    #[serde(default)]
    colors: ColorOverrides,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColorOverrides {
    title: Option<String>,
    text: Option<String>,
    muted: Option<String>,
    accent: Option<String>,
    key: Option<String>,
    ok: Option<String>,
    warning: Option<String>,
    error: Option<String>,
    selection_fg: Option<String>,
    selection_bg: Option<String>,
    border: Option<String>,
    border_focused: Option<String>,
    tab_active: Option<String>,
    event: Option<String>,
}

/// A resolved theme: a palette plus how to draw (colours or not, ASCII or Unicode borders).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// The theme's name, shown in the status line when cycling.
    pub name: String,
    /// The colours.
    pub palette: Palette,
    /// `NO_COLOR`: styles use only modifiers (bold, reversed, ...), never colours.
    pub no_color: bool,
    /// Box-drawing glyphs instead of ASCII borders.
    pub unicode: bool,
}

fn parse_color(field: &str, value: &str) -> Result<Color, TuiError> {
    value
        .parse::<Color>()
        .map_err(|_| TuiError::Theme(format!("colour '{field}': cannot read '{value}' as a colour (use a name like 'cyan', an index like '236' or '#rrggbb')")))
}

impl ThemeFile {
    fn parse(name: &str, text: &str) -> Result<ThemeFile, TuiError> {
        toml::from_str(text).map_err(|e| TuiError::Theme(format!("theme '{name}': {e}")))
    }

    /// Applies this file's overrides onto `base`.
    fn apply(&self, base: &mut Theme) -> Result<(), TuiError> {
        if let Some(name) = &self.name {
            base.name = name.clone();
        }
        if let Some(glyphs) = &self.glyphs {
            base.unicode = match glyphs.as_str() {
                "ascii" => false,
                "unicode" => true,
                other => {
                    return Err(TuiError::Theme(format!(
                        "glyphs = '{other}': expected \"ascii\" or \"unicode\""
                    )));
                }
            };
        }
        let c = &self.colors;
        let p = &mut base.palette;
        let slots: [(&str, &Option<String>, &mut Color); 14] = [
            ("title", &c.title, &mut p.title),
            ("text", &c.text, &mut p.text),
            ("muted", &c.muted, &mut p.muted),
            ("accent", &c.accent, &mut p.accent),
            ("key", &c.key, &mut p.key),
            ("ok", &c.ok, &mut p.ok),
            ("warning", &c.warning, &mut p.warning),
            ("error", &c.error, &mut p.error),
            ("selection_fg", &c.selection_fg, &mut p.selection_fg),
            ("selection_bg", &c.selection_bg, &mut p.selection_bg),
            ("border", &c.border, &mut p.border),
            ("border_focused", &c.border_focused, &mut p.border_focused),
            ("tab_active", &c.tab_active, &mut p.tab_active),
            ("event", &c.event, &mut p.event),
        ];
        for (field, value, slot) in slots {
            if let Some(value) = value {
                *slot = parse_color(field, value)?;
            }
        }
        Ok(())
    }
}

/// A palette of terminal defaults, the floor under the built-in default theme.
const FLOOR: Palette = Palette {
    title: Color::Reset,
    text: Color::Reset,
    muted: Color::Reset,
    accent: Color::Reset,
    key: Color::Reset,
    ok: Color::Reset,
    warning: Color::Reset,
    error: Color::Reset,
    selection_fg: Color::Reset,
    selection_bg: Color::Reset,
    border: Color::Reset,
    border_focused: Color::Reset,
    tab_active: Color::Reset,
    event: Color::Reset,
};

impl Default for Theme {
    /// The built-in default (dark) theme.
    fn default() -> Self {
        Theme::builtin(BUILTIN_THEMES[0].0, false).unwrap_or(Theme {
            name: "dark".to_string(),
            palette: FLOOR,
            no_color: false,
            unicode: false,
        })
    }
}

impl Theme {
    /// The names of the built-in themes, in cycling order.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN_THEMES.iter().map(|(n, _)| *n).collect()
    }

    /// A built-in theme by name.
    pub fn builtin(name: &str, no_color: bool) -> Result<Theme, TuiError> {
        let text = BUILTIN_THEMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .ok_or_else(|| unknown_theme(name))?;
        Self::from_toml(name, text, no_color)
    }

    /// A theme from TOML text, layered on the default (or on the built-in it `extends`).
    pub fn from_toml(name: &str, text: &str, no_color: bool) -> Result<Theme, TuiError> {
        let file = ThemeFile::parse(name, text)?;
        let mut theme = Theme {
            name: name.to_string(),
            palette: FLOOR,
            no_color,
            unicode: false,
        };
        let base_name = file.extends.as_deref().unwrap_or(BUILTIN_THEMES[0].0);
        if base_name != name {
            let (_, base_text) = BUILTIN_THEMES
                .iter()
                .find(|(n, _)| *n == base_name)
                .ok_or_else(|| unknown_theme(base_name))?;
            ThemeFile::parse(base_name, base_text)?.apply(&mut theme)?;
        }
        file.apply(&mut theme)?;
        theme.name = file.name.unwrap_or_else(|| name.to_string());
        Ok(theme)
    }

    /// Resolves `--theme NAME`: a built-in name, else `<data_dir>/themes/NAME.toml`, else a
    /// path to a TOML file.
    pub fn load(name: &str, no_color: bool, data_dir: &Path) -> Result<Theme, TuiError> {
        if BUILTIN_THEMES.iter().any(|(n, _)| *n == name) {
            return Self::builtin(name, no_color);
        }
        let in_data_dir = data_dir.join("themes").join(format!("{name}.toml"));
        let path = if in_data_dir.is_file() {
            in_data_dir
        } else if Path::new(name).is_file() {
            Path::new(name).to_path_buf()
        } else {
            return Err(unknown_theme(name));
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| TuiError::Theme(format!("cannot read {}: {e}", path.display())))?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.to_string());
        Self::from_toml(&stem, &text, no_color)
    }

    /// The border glyphs to draw with.
    pub fn border_set(&self) -> border::Set<'static> {
        if self.unicode {
            border::PLAIN
        } else {
            ASCII_BORDER
        }
    }

    fn fg(&self, color: Color, fallback: Modifier) -> Style {
        if self.no_color {
            Style::default().add_modifier(fallback)
        } else {
            Style::default().fg(color)
        }
    }

    /// Titles.
    pub fn title(&self) -> Style {
        self.fg(self.palette.title, Modifier::BOLD)
            .add_modifier(Modifier::BOLD)
    }

    /// Ordinary text.
    pub fn text(&self) -> Style {
        self.fg(self.palette.text, Modifier::empty())
    }

    /// Secondary text.
    pub fn muted(&self) -> Style {
        self.fg(self.palette.muted, Modifier::DIM)
    }

    /// Values and commands worth noticing.
    pub fn accent(&self) -> Style {
        self.fg(self.palette.accent, Modifier::empty())
    }

    /// Key names in hints.
    pub fn key(&self) -> Style {
        self.fg(self.palette.key, Modifier::BOLD)
            .add_modifier(Modifier::BOLD)
    }

    /// Good news.
    pub fn ok(&self) -> Style {
        self.fg(self.palette.ok, Modifier::BOLD)
    }

    /// Attention.
    pub fn warning(&self) -> Style {
        self.fg(self.palette.warning, Modifier::BOLD)
    }

    /// Failure.
    pub fn error(&self) -> Style {
        self.fg(self.palette.error, Modifier::BOLD)
    }

    /// Event payloads.
    pub fn event(&self) -> Style {
        self.fg(self.palette.event, Modifier::empty())
    }

    /// The selected row: colours, or reversed video without colour.
    pub fn selection(&self) -> Style {
        if self.no_color {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default()
                .fg(self.palette.selection_fg)
                .bg(self.palette.selection_bg)
        }
    }

    /// A pane's border.
    pub fn border(&self, focused: bool) -> Style {
        match (self.no_color, focused) {
            (true, true) => Style::default().add_modifier(Modifier::BOLD),
            (true, false) => Style::default(),
            (false, true) => Style::default().fg(self.palette.border_focused),
            (false, false) => Style::default().fg(self.palette.border),
        }
    }

    /// The active tab.
    pub fn tab_active(&self) -> Style {
        if self.no_color {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::default()
                .fg(self.palette.tab_active)
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        }
    }
}

fn unknown_theme(name: &str) -> TuiError {
    TuiError::Theme(format!(
        "unknown theme '{name}'; built-in themes: {} (or put NAME.toml in <data-dir>/themes/, or give a path to a .toml file)",
        Theme::builtin_names().join(", ")
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_builtin_theme_parses_and_sets_every_colour() {
        for (name, text) in BUILTIN_THEMES {
            let theme = Theme::from_toml(name, text, false).unwrap();
            assert_eq!(theme.name, name);
            // Each built-in names all its colours itself, so none is left at the floor
            // except where the theme means "the terminal's default".
            let file = ThemeFile::parse(name, text).unwrap();
            assert!(
                file.colors.title.is_some() && file.colors.event.is_some(),
                "{name}"
            );
        }
    }

    #[test]
    fn a_partial_theme_overrides_only_what_it_names() {
        let theme = Theme::from_toml("mine", "[colors]\nerror = \"#ff0000\"\n", false).unwrap();
        let dark = Theme::builtin("dark", false).unwrap();
        assert_eq!(theme.palette.error, Color::Rgb(255, 0, 0));
        assert_eq!(theme.palette.title, dark.palette.title);
        assert_eq!(theme.name, "mine");
        let on_light = Theme::from_toml(
            "mine",
            "extends = \"light\"\n[colors]\nok = \"magenta\"\n",
            false,
        )
        .unwrap();
        let light = Theme::builtin("light", false).unwrap();
        assert_eq!(on_light.palette.accent, light.palette.accent);
        assert_eq!(on_light.palette.ok, Color::Magenta);
    }

    #[test]
    fn bad_colours_and_unknown_names_are_explained() {
        let err = Theme::from_toml("x", "[colors]\nok = \"not-a-colour\"\n", false).unwrap_err();
        assert!(err.to_string().contains("colour 'ok'"), "{err}");
        let err = Theme::load("nope", false, Path::new("/nonexistent")).unwrap_err();
        assert!(
            err.to_string()
                .contains("built-in themes: dark, light, high-contrast")
        );
    }

    #[test]
    fn no_color_styles_carry_no_colour_at_all() {
        let theme = Theme::builtin("dark", true).unwrap();
        for style in [
            theme.title(),
            theme.text(),
            theme.muted(),
            theme.accent(),
            theme.key(),
            theme.ok(),
            theme.warning(),
            theme.error(),
            theme.selection(),
            theme.border(true),
            theme.border(false),
            theme.tab_active(),
            theme.event(),
        ] {
            assert_eq!(style.fg, None);
            assert_eq!(style.bg, None);
        }
        assert!(theme.selection().add_modifier.contains(Modifier::REVERSED));
    }
}
