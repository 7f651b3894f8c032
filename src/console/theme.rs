//! Colour themes: TOML files with named colour roles, so views say "warn", never "yellow".

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use std::path::Path;
use std::str::FromStr;

const BUILT_IN: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("mono", include_str!("../../themes/mono.toml")),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: String,
    #[serde(default)]
    reverse_badges: bool,
    colors: Colors,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Colors {
    fg: String,
    muted: String,
    accent: String,
    ok: String,
    warn: String,
    crit: String,
    border: String,
    title: String,
    chart: String,
    band: String,
    shadow_fg: String,
    shadow_bg: String,
    live_fg: String,
    live_bg: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub reverse_badges: bool,
    pub fg: Color,
    pub muted: Color,
    pub accent: Color,
    pub ok: Color,
    pub warn: Color,
    pub crit: Color,
    pub border: Color,
    pub title: Color,
    pub chart: Color,
    pub band: Color,
    pub shadow_fg: Color,
    pub shadow_bg: Color,
    pub live_fg: Color,
    pub live_bg: Color,
}

fn color(field: &str, s: &str) -> Result<Color, String> {
    Color::from_str(s).map_err(|_| {
        format!("colors.{field}: not a colour: \"{s}\" (a name, \"#rrggbb\" or 0-255)")
    })
}

impl Theme {
    pub fn parse(src: &str, origin: &str) -> Result<Theme, String> {
        let f: ThemeFile = toml::from_str(src).map_err(|e| {
            let line = e
                .span()
                .map(|s| crate::config::line_of(src, s.start))
                .unwrap_or(1);
            format!("{origin}:{line}: {}", e.message())
        })?;
        let c = &f.colors;
        let t = |field: &str, s: &str| color(field, s).map_err(|e| format!("{origin}: {e}"));
        Ok(Theme {
            name: f.name,
            reverse_badges: f.reverse_badges,
            fg: t("fg", &c.fg)?,
            muted: t("muted", &c.muted)?,
            accent: t("accent", &c.accent)?,
            ok: t("ok", &c.ok)?,
            warn: t("warn", &c.warn)?,
            crit: t("crit", &c.crit)?,
            border: t("border", &c.border)?,
            title: t("title", &c.title)?,
            chart: t("chart", &c.chart)?,
            band: t("band", &c.band)?,
            shadow_fg: t("shadow_fg", &c.shadow_fg)?,
            shadow_bg: t("shadow_bg", &c.shadow_bg)?,
            live_fg: t("live_fg", &c.live_fg)?,
            live_bg: t("live_bg", &c.live_bg)?,
        })
    }

    pub fn built_in(name: &str) -> Option<Theme> {
        BUILT_IN
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(n, src)| Theme::parse(src, n).ok())
    }

    pub fn names() -> Vec<&'static str> {
        BUILT_IN.iter().map(|(n, _)| *n).collect()
    }

    /// A user file `NAME.toml` in `user_dir` first, then the built-in one. NO_COLOR
    /// (https://no-color.org) wins over both.
    pub fn load(name: &str, user_dir: Option<&Path>, no_color: bool) -> Result<Theme, String> {
        if no_color {
            return Theme::built_in("mono").ok_or_else(|| "built-in mono theme is broken".into());
        }
        if let Some(dir) = user_dir {
            let path = dir.join(format!("{name}.toml"));
            if let Ok(src) = std::fs::read_to_string(&path) {
                return Theme::parse(&src, &path.display().to_string());
            }
        }
        Theme::built_in(name).ok_or_else(|| {
            format!(
                "unknown theme \"{name}\"; built in: {}",
                Theme::names().join(", ")
            )
        })
    }

    pub fn text(&self) -> Style {
        Style::default().fg(self.fg)
    }

    pub fn muted(&self) -> Style {
        Style::default().fg(self.muted)
    }

    pub fn border(&self) -> Style {
        Style::default().fg(self.border)
    }

    pub fn title(&self) -> Style {
        Style::default().fg(self.title).add_modifier(Modifier::BOLD)
    }

    pub fn badge(&self, live: bool) -> Style {
        let (fg, bg) = if live {
            (self.live_fg, self.live_bg)
        } else {
            (self.shadow_fg, self.shadow_bg)
        };
        let s = Style::default().fg(fg).bg(bg).add_modifier(Modifier::BOLD);
        if self.reverse_badges {
            s.add_modifier(Modifier::REVERSED)
        } else {
            s
        }
    }

    /// The colour of a level against warning and critical thresholds.
    pub fn level(&self, value: f64, warn: f64, crit: f64) -> Style {
        let c = if value >= crit {
            self.crit
        } else if value >= warn {
            self.warn
        } else {
            self.ok
        };
        Style::default().fg(c)
    }
}
