//! Keys to actions, per mode. Layers are tried topmost first: a text input (filter, command
//! line) takes printable keys before the views see them; then the help overlay; then the
//! normal bindings. The same table produces the help screen and the footer hints, so they
//! cannot drift from what the keys do.

use std::collections::{BTreeMap, HashMap};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Everything a key can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Up,
    Down,
    Left,
    Right,
    ZoomIn,
    ZoomOut,
    NextPool,
    IpamMode,
    SortNext,
    SortReverse,
    ToggleStrictAffinity,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Enter,
    Back,
    Filter,
    CommandLine,
    Help,
    Quit,
    Pools,
    Nodes,
    Rollout,
    Ipam,
    Findings,
    NextTheme,
    Suspend,
}

impl Action {
    pub const ALL: [Action; 28] = [
        Action::Up,
        Action::Down,
        Action::Left,
        Action::Right,
        Action::ZoomIn,
        Action::ZoomOut,
        Action::NextPool,
        Action::IpamMode,
        Action::SortNext,
        Action::SortReverse,
        Action::ToggleStrictAffinity,
        Action::PageUp,
        Action::PageDown,
        Action::Top,
        Action::Bottom,
        Action::Enter,
        Action::Back,
        Action::Filter,
        Action::CommandLine,
        Action::Help,
        Action::Quit,
        Action::Pools,
        Action::Nodes,
        Action::Rollout,
        Action::Ipam,
        Action::Findings,
        Action::NextTheme,
        Action::Suspend,
    ];

    /// The name used in the config file's `[keys]` table.
    pub fn name(self) -> &'static str {
        match self {
            Action::Up => "up",
            Action::Down => "down",
            Action::Left => "left",
            Action::Right => "right",
            Action::ZoomIn => "zoom-in",
            Action::ZoomOut => "zoom-out",
            Action::NextPool => "next-pool",
            Action::IpamMode => "ipam-mode",
            Action::SortNext => "sort-next",
            Action::SortReverse => "sort-reverse",
            Action::ToggleStrictAffinity => "toggle-strict-affinity",
            Action::PageUp => "page-up",
            Action::PageDown => "page-down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::Enter => "enter",
            Action::Back => "back",
            Action::Filter => "filter",
            Action::CommandLine => "command",
            Action::Help => "help",
            Action::Quit => "quit",
            Action::Pools => "pools",
            Action::Nodes => "nodes",
            Action::Rollout => "rollout",
            Action::Ipam => "ipam",
            Action::Findings => "findings",
            Action::NextTheme => "next-theme",
            Action::Suspend => "suspend",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Action::Up => "move up",
            Action::Down => "move down",
            Action::Left => "IPAM map: previous cell",
            Action::Right => "IPAM map: next cell",
            Action::ZoomIn => "IPAM map: zoom in (smaller cells)",
            Action::ZoomOut => "IPAM map: zoom out (aggregate cells)",
            Action::NextPool => "IPAM: next IP pool",
            Action::IpamMode => "IPAM: map / pools / nodes / borrowed tables",
            Action::SortNext => "IPAM tables: sort by the next column",
            Action::SortReverse => "IPAM tables: reverse the sort (▲ / ▼)",
            Action::ToggleStrictAffinity => "toggle IPAM strictAffinity (preview first)",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Top => "first row",
            Action::Bottom => "last row",
            Action::Enter => "open the selected row",
            Action::Back => "back / close",
            Action::Filter => "filter rows",
            Action::CommandLine => {
                "command line (:pools :nodes :rollout :ipam :findings :ctx :theme :quit)"
            }
            Action::Help => "this help",
            Action::Quit => "quit",
            Action::Pools => "node pools",
            Action::Nodes => "all nodes",
            Action::Rollout => "Calico rollout",
            Action::Ipam => "Calico IPAM",
            Action::Findings => "findings",
            Action::NextTheme => "next colour theme",
            Action::Suspend => "suspend (fg to resume)",
        }
    }

    /// Shown in the footer, in this order, when there is room.
    fn hint(self) -> Option<&'static str> {
        Some(match self {
            Action::Enter => "open",
            Action::Back => "back",
            Action::Filter => "filter",
            Action::CommandLine => "cmd",
            Action::Help => "help",
            Action::Pools => "pools",
            Action::Rollout => "rollout",
            Action::Ipam => "ipam",
            Action::Findings => "findings",
            Action::Quit => "quit",
            _ => return None,
        })
    }
}

/// One key: a code and its modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

impl Key {
    pub fn plain(code: KeyCode) -> Self {
        Self {
            code,
            modifiers: KeyModifiers::NONE,
        }
    }

    pub fn char(c: char) -> Self {
        Self::plain(KeyCode::Char(c))
    }

    pub fn ctrl(c: char) -> Self {
        Self {
            code: KeyCode::Char(c),
            modifiers: KeyModifiers::CONTROL,
        }
    }

    /// From a terminal event: shift is folded into the character (`G`, `?`).
    pub fn from_event(event: KeyEvent) -> Self {
        let modifiers = if matches!(event.code, KeyCode::Char(_)) {
            event.modifiers - KeyModifiers::SHIFT
        } else {
            event.modifiers
        };
        Self {
            code: event.code,
            modifiers,
        }
    }

    /// `j`, `G`, `ctrl-z`, `enter`, `esc`, `pgdn`, ...: the config file's notation.
    pub fn parse(text: &str) -> Option<Self> {
        let (modifiers, rest) = match text.strip_prefix("ctrl-") {
            Some(rest) => (KeyModifiers::CONTROL, rest),
            None => (KeyModifiers::NONE, text),
        };
        let code = match rest {
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pgup" => KeyCode::PageUp,
            "pgdn" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "tab" => KeyCode::Tab,
            "backspace" => KeyCode::Backspace,
            single if single.chars().count() == 1 => KeyCode::Char(single.chars().next()?),
            _ => return None,
        };
        Some(Self { code, modifiers })
    }

    pub fn label(self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "enter".to_string(),
            KeyCode::Esc => "esc".to_string(),
            KeyCode::Up => "↑".to_string(),
            KeyCode::Down => "↓".to_string(),
            KeyCode::PageUp => "pgup".to_string(),
            KeyCode::PageDown => "pgdn".to_string(),
            KeyCode::Home => "home".to_string(),
            KeyCode::End => "end".to_string(),
            other => format!("{other:?}").to_lowercase(),
        };
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            format!("ctrl-{base}")
        } else {
            base
        }
    }
}

/// `(key) -> action` for the normal mode; text-input modes are handled by the input widget.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: HashMap<Key, Action>,
}

impl Default for Keymap {
    fn default() -> Self {
        use Action as A;
        let pairs = [
            (Key::char('k'), A::Up),
            (Key::plain(KeyCode::Up), A::Up),
            (Key::char('j'), A::Down),
            (Key::plain(KeyCode::Down), A::Down),
            (Key::char('h'), A::Left),
            (Key::plain(KeyCode::Left), A::Left),
            (Key::char('l'), A::Right),
            (Key::plain(KeyCode::Right), A::Right),
            (Key::char('+'), A::ZoomIn),
            (Key::char('='), A::ZoomIn),
            (Key::char('-'), A::ZoomOut),
            (Key::plain(KeyCode::Tab), A::NextPool),
            (Key::char('m'), A::IpamMode),
            (Key::char('o'), A::SortNext),
            (Key::char('O'), A::SortReverse),
            (Key::char('s'), A::ToggleStrictAffinity),
            (Key::plain(KeyCode::PageUp), A::PageUp),
            (Key::ctrl('b'), A::PageUp),
            (Key::plain(KeyCode::PageDown), A::PageDown),
            (Key::ctrl('f'), A::PageDown),
            (Key::char('g'), A::Top),
            (Key::plain(KeyCode::Home), A::Top),
            (Key::char('G'), A::Bottom),
            (Key::plain(KeyCode::End), A::Bottom),
            (Key::plain(KeyCode::Enter), A::Enter),
            (Key::plain(KeyCode::Esc), A::Back),
            (Key::char('/'), A::Filter),
            (Key::char(':'), A::CommandLine),
            (Key::char('?'), A::Help),
            (Key::char('q'), A::Quit),
            (Key::ctrl('c'), A::Quit),
            (Key::char('p'), A::Pools),
            (Key::char('n'), A::Nodes),
            (Key::char('r'), A::Rollout),
            (Key::char('i'), A::Ipam),
            (Key::char('f'), A::Findings),
            (Key::char('t'), A::NextTheme),
            (Key::ctrl('z'), A::Suspend),
        ];
        Self {
            bindings: pairs.into_iter().collect(),
        }
    }
}

impl Keymap {
    pub fn action(&self, key: Key) -> Option<Action> {
        self.bindings.get(&key).copied()
    }

    /// Applies `[keys]` overrides (`action = "key"`): the new key is added and the action's
    /// default keys are kept unless another action claims them. Returns one warning per entry
    /// it could not use.
    pub fn with_overrides(mut self, overrides: &BTreeMap<String, String>) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        for (name, key_text) in overrides {
            let Some(action) = Action::ALL.into_iter().find(|a| a.name() == name) else {
                warnings.push(format!("config [keys]: unknown action \"{name}\""));
                continue;
            };
            let Some(key) = Key::parse(key_text) else {
                warnings.push(format!("config [keys]: \"{key_text}\" is not a key"));
                continue;
            };
            self.bindings.insert(key, action);
        }
        (self, warnings)
    }

    /// Every key bound to `action`, in key order.
    pub fn keys_for(&self, action: Action) -> Vec<Key> {
        let mut keys: Vec<Key> = self
            .bindings
            .iter()
            .filter(|(_, bound)| **bound == action)
            .map(|(key, _)| *key)
            .collect();
        // Letters before arrows and control keys, so the footer shows the k9s-like key.
        keys.sort_by_key(|key| {
            (
                !matches!(key.code, KeyCode::Char(_)),
                key.modifiers.bits(),
                key.label(),
            )
        });
        keys
    }

    /// Help lines: keys and description per action, in `Action::ALL` order.
    pub fn help(&self) -> Vec<(String, &'static str)> {
        Action::ALL
            .into_iter()
            .filter_map(|action| {
                let keys = self.keys_for(action);
                (!keys.is_empty()).then(|| {
                    let labels: Vec<String> = keys.iter().map(|k| k.label()).collect();
                    (labels.join(" "), action.description())
                })
            })
            .collect()
    }

    /// Footer hints: `(key, word)` for the most useful actions.
    pub fn hints(&self) -> Vec<(String, &'static str)> {
        Action::ALL
            .into_iter()
            .filter_map(|action| {
                let hint = action.hint()?;
                let key = self.keys_for(action).into_iter().next()?;
                Some((key.label(), hint))
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn shifted_characters_match_their_bindings() {
        let keymap = Keymap::default();
        let event = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(keymap.action(Key::from_event(event)), Some(Action::Bottom));
        let event = KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL);
        assert_eq!(keymap.action(Key::from_event(event)), Some(Action::Suspend));
    }

    #[test]
    fn overrides_add_keys_and_warn_about_unknown_ones() {
        let overrides: BTreeMap<String, String> = [
            ("quit".to_string(), "x".to_string()),
            ("fly".to_string(), "y".to_string()),
            ("help".to_string(), "ctrl-".to_string()),
        ]
        .into_iter()
        .collect();
        let (keymap, warnings) = Keymap::default().with_overrides(&overrides);
        assert_eq!(keymap.action(Key::char('x')), Some(Action::Quit));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        let help = keymap.help();
        assert!(help.iter().any(|(keys, _)| keys.contains('x')));
        assert!(keymap.hints().iter().any(|(_, word)| *word == "quit"));
    }
}
