//! Colours by semantic role (`ok`, `warning`, `windows`, `borrowed`, ...), loaded from
//! `themes/*.toml` (built in) or the user's config directory. Views ask for a role, never for
//! a colour, and never carry meaning by colour alone: every role is paired with text or a
//! symbol in the views. `NO_COLOR` selects a theme made of modifiers only.

use std::collections::BTreeMap;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

/// What a piece of the screen means; themes map each to a style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Text,
    Muted,
    Title,
    Header,
    Border,
    Selected,
    Ok,
    Info,
    Warning,
    Error,
    Linux,
    Windows,
    Free,
    Borrowed,
    Orphaned,
    Simulated,
    Key,
}

impl Role {
    pub const ALL: [Role; 17] = [
        Role::Text,
        Role::Muted,
        Role::Title,
        Role::Header,
        Role::Border,
        Role::Selected,
        Role::Ok,
        Role::Info,
        Role::Warning,
        Role::Error,
        Role::Linux,
        Role::Windows,
        Role::Free,
        Role::Borrowed,
        Role::Orphaned,
        Role::Simulated,
        Role::Key,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Role::Text => "text",
            Role::Muted => "muted",
            Role::Title => "title",
            Role::Header => "header",
            Role::Border => "border",
            Role::Selected => "selected",
            Role::Ok => "ok",
            Role::Info => "info",
            Role::Warning => "warning",
            Role::Error => "error",
            Role::Linux => "linux",
            Role::Windows => "windows",
            Role::Free => "free",
            Role::Borrowed => "borrowed",
            Role::Orphaned => "orphaned",
            Role::Simulated => "simulated",
            Role::Key => "key",
        }
    }
}

/// A named mapping from roles to styles.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    styles: BTreeMap<Role, Style>,
}

/// The themes shipped in `themes/`, compiled in so the binary works from anywhere.
pub const BUILT_IN: [(&str, &str); 4] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("16-colour", include_str!("../../themes/16-colour.toml")),
];

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ThemeError {
    #[error("theme is not valid TOML: {0}")]
    Syntax(String),
    #[error("theme role \"{role}\": {problem}")]
    Role { role: String, problem: String },
    #[error("no theme named \"{0}\" (built in: dark, light, high-contrast, 16-colour)")]
    Unknown(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: Option<String>,
    #[serde(default)]
    roles: BTreeMap<String, RoleStyle>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleStyle {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    modifiers: Vec<String>,
}

impl Theme {
    pub fn style(&self, role: Role) -> Style {
        self.styles.get(&role).copied().unwrap_or_default()
    }

    /// Parses a theme file; roles it leaves out fall back to the terminal's defaults.
    pub fn parse(text: &str, fallback_name: &str) -> Result<Self, ThemeError> {
        let file: ThemeFile =
            toml::from_str(text).map_err(|err| ThemeError::Syntax(one_line(&err.to_string())))?;
        let mut styles = BTreeMap::new();
        for (key, spec) in file.roles {
            let role = Role::ALL
                .into_iter()
                .find(|role| role.key() == key)
                .ok_or_else(|| ThemeError::Role {
                    role: key.clone(),
                    problem: "unknown role".to_string(),
                })?;
            let problem = |problem: String| ThemeError::Role {
                role: key.clone(),
                problem,
            };
            let mut style = Style::default();
            if let Some(fg) = &spec.fg {
                style = style.fg(parse_colour(fg).map_err(problem)?);
            }
            if let Some(bg) = &spec.bg {
                style = style.bg(parse_colour(bg).map_err(problem)?);
            }
            for name in &spec.modifiers {
                style = style.add_modifier(parse_modifier(name).map_err(problem)?);
            }
            styles.insert(role, style);
        }
        Ok(Self {
            name: file.name.unwrap_or_else(|| fallback_name.to_string()),
            styles,
        })
    }

    /// A built-in theme by name.
    pub fn built_in(name: &str) -> Result<Self, ThemeError> {
        let (_, text) = BUILT_IN
            .iter()
            .find(|(known, _)| *known == name)
            .ok_or_else(|| ThemeError::Unknown(name.to_string()))?;
        Self::parse(text, name)
    }

    /// The default dark theme. The built-in files are tested to parse.
    pub fn dark() -> Self {
        Self::built_in("dark").unwrap_or_else(|_| Self::monochrome())
    }

    /// For `NO_COLOR` and colourless terminals: meaning carried by modifiers and symbols.
    pub fn monochrome() -> Self {
        let mut styles = BTreeMap::new();
        styles.insert(Role::Title, Style::new().add_modifier(Modifier::BOLD));
        styles.insert(Role::Header, Style::new().add_modifier(Modifier::BOLD));
        styles.insert(
            Role::Selected,
            Style::new().add_modifier(Modifier::REVERSED),
        );
        styles.insert(Role::Error, Style::new().add_modifier(Modifier::BOLD));
        styles.insert(
            Role::Warning,
            Style::new().add_modifier(Modifier::UNDERLINED),
        );
        styles.insert(Role::Muted, Style::new().add_modifier(Modifier::DIM));
        styles.insert(Role::Free, Style::new().add_modifier(Modifier::DIM));
        styles.insert(Role::Borrowed, Style::new().add_modifier(Modifier::BOLD));
        styles.insert(Role::Orphaned, Style::new().add_modifier(Modifier::BOLD));
        styles.insert(
            Role::Simulated,
            Style::new().add_modifier(Modifier::REVERSED),
        );
        styles.insert(Role::Key, Style::new().add_modifier(Modifier::BOLD));
        Self {
            name: "monochrome".to_string(),
            styles,
        }
    }
}

fn parse_colour(text: &str) -> Result<Color, String> {
    if let Ok(index) = text.parse::<u8>() {
        return Ok(Color::Indexed(index));
    }
    Color::from_str(text).map_err(|_| format!("\"{text}\" is not a colour"))
}

fn parse_modifier(name: &str) -> Result<Modifier, String> {
    Ok(match name {
        "bold" => Modifier::BOLD,
        "dim" => Modifier::DIM,
        "italic" => Modifier::ITALIC,
        "underlined" => Modifier::UNDERLINED,
        "reversed" => Modifier::REVERSED,
        other => return Err(format!("\"{other}\" is not a modifier")),
    })
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn built_in_themes_parse_and_cover_every_role() {
        for (name, _) in BUILT_IN {
            let theme = Theme::built_in(name).unwrap();
            assert_eq!(theme.name, name);
            for role in Role::ALL {
                assert!(theme.styles.contains_key(&role), "{name} lacks {role:?}");
            }
        }
    }

    #[test]
    fn bad_themes_are_one_line_errors() {
        let err = Theme::parse("[roles]\nok = { fg = \"blurple\" }", "x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "theme role \"ok\": \"blurple\" is not a colour"
        );
        let err = Theme::parse("[roles]\nnope = {}", "x").unwrap_err();
        assert!(err.to_string().contains("unknown role"), "{err}");
        let err = Theme::parse("[roles", "x").unwrap_err();
        assert!(!err.to_string().contains('\n'));
        assert!(matches!(
            Theme::built_in("pink"),
            Err(ThemeError::Unknown(_))
        ));
    }
}
