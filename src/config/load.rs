//! Loading a config so that every problem is reported with its file, line and key, and
//! everything that is valid is still used.
//!
//! serde stops at the first error, so the loader blanks the offending key (spaces keep
//! every other byte offset, hence every line number, intact) and tries again until the
//! rest parses.

use super::schema::Config;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml_edit::{Document, Item, Table};

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub key: String,
    pub message: String,
    /// Byte range in the source, for pointing at the text.
    pub span: Range<usize>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(
                f,
                "{}:{}: {}: {}",
                self.file, self.line, self.key, self.message
            )
        }
    }
}

#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub problems: Vec<Problem>,
    /// The file it came from; None when vigil runs on its embedded defaults.
    pub path: Option<PathBuf>,
    pub source: String,
}

/// Problems reported from one file; past them the file is not read further.
const MAX_ROUNDS: usize = 64;
/// The largest config file read (the example is 10 KiB).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

pub fn load_str(src: &str, file: &str) -> Loaded {
    let mut text = src.to_string();
    let mut problems = Vec::new();
    let mut config = Config::default();
    for round in 0..=MAX_ROUNDS {
        if round == MAX_ROUNDS {
            problems.push(Problem {
                file: file.to_string(),
                line: 1,
                key: String::new(),
                message: format!(
                    "more than {MAX_ROUNDS} problems: the file is not used, vigil runs on its defaults"
                ),
                span: 0..0,
            });
            break;
        }
        match toml::from_str::<Config>(&text) {
            Ok(c) => {
                config = c;
                break;
            }
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let literal = text.get(span.clone()).unwrap_or("").trim().to_string();
                let (key, blank) = with_document(&text, &span, |doc| locate(doc, &span, ""))
                    // A syntax error: the line that holds it cannot be used.
                    .unwrap_or_else(|| (String::new(), line_range(&text, span.start)));
                problems.push(Problem {
                    file: file.to_string(),
                    line: line_of(src, span.start),
                    message: friendly(e.message(), &literal),
                    key: key.clone(),
                    span: span.clone(),
                });
                let blank = blank
                    .map(|r| past_literal(&text, r))
                    .or_else(|| line_range(&text, span.start));
                match blank {
                    Some(r) if !is_blank(&text[r.clone()]) => blank_out(&mut text, r),
                    _ => break, // nothing left to remove: keep the defaults
                }
            }
        }
    }
    // Flavor prices from [huawei] feed the targets' own cost fields.
    config.huawei.clone().fill_prices(&mut config.scale);
    // A scale target or webhook with a key that did not parse is left out below, as one
    // that fails a check: its blanked key's default would be a guess.
    let unparsed: Vec<String> = problems
        .iter()
        .map(|p| p.key.clone())
        .filter(|k| k.starts_with("scale.") || k.starts_with("notify."))
        .collect();
    let mut semantic = config.semantic_problems();
    semantic.extend(super::bounds::problems(&config));
    let doc = (!semantic.is_empty())
        .then(|| Document::parse(text.as_str()).ok())
        .flatten();
    for (key, message) in &semantic {
        let span = doc
            .as_ref()
            .and_then(|d| span_of_key(d.as_table(), key))
            .unwrap_or(0..0);
        problems.push(Problem {
            file: file.to_string(),
            line: line_of(src, span.start),
            key: key.clone(),
            message: message.clone(),
            span,
        });
    }
    let keys: Vec<String> = semantic
        .into_iter()
        .map(|(k, _)| k)
        .chain(unparsed)
        .collect();
    let rest = super::bounds::reset(&mut config, &keys);
    config.reset_keys(&rest);
    problems.sort_by_key(|p| p.span.start);
    Loaded {
        config,
        problems,
        path: None,
        source: src.to_string(),
    }
}

pub fn load_file(path: &Path) -> std::io::Result<Loaded> {
    use std::io::Read;
    let mut bytes = Vec::new();
    // One byte past the limit tells a file at the limit from a longer one.
    std::fs::File::open(path)?
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} KiB: not a config file",
            MAX_CONFIG_BYTES >> 10
        )));
    }
    let src = String::from_utf8(bytes).map_err(|e| {
        let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        std::io::Error::other(format!(
            "line {}: not UTF-8 text",
            upto.iter().filter(|&&b| b == b'\n').count() + 1
        ))
    })?;
    let mut loaded = load_str(&src, &path.display().to_string());
    loaded.path = Some(path.to_path_buf());
    Ok(loaded)
}

/// Renders problems the way compilers do: the line, a caret under the offending text.
pub fn render(loaded: &Loaded, color: bool) -> String {
    use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for p in &loaded.problems {
        let title = if p.key.is_empty() {
            p.message.clone()
        } else {
            format!("{}: {}", p.key, p.message)
        };
        let span = clamp(&loaded.source, &p.span);
        let report = &[Level::ERROR.primary_title(title.as_str()).element(
            Snippet::source(loaded.source.as_str())
                .path(p.file.as_str())
                .annotation(AnnotationKind::Primary.span(span)),
        )];
        out.push_str(&renderer.render(report));
        out.push('\n');
    }
    out
}

fn clamp(src: &str, span: &Range<usize>) -> Range<usize> {
    let start = span.start.min(src.len());
    let end = span.end.clamp(start, src.len());
    start..end
}

/// Runs `f` on the document's tree. toml_edit refuses a whole file over one integer
/// beyond i64 (`99999999999999999999`) where serde only refuses that key; with each
/// such literal (and serde's offending one, at `span`) replaced by a 0 of the same
/// width, the rest of the file still names its keys.
fn with_document<R>(text: &str, span: &Range<usize>, f: impl Fn(&Table) -> R) -> Option<R> {
    let mut patched = text.to_string();
    let mut at = None;
    // Each pass patches one literal; a real syntax error ends it.
    for _ in 0..MAX_ROUNDS {
        if let Some(start) = at.take() {
            patch_literal(&mut patched, start);
        }
        match Document::parse(patched.as_str()) {
            Ok(doc) => return Some(f(doc.as_table())),
            Err(e) => {
                let start = e.span().map(|s| s.start).unwrap_or(span.start);
                let number = |at: usize| {
                    patched.get(at..).is_some_and(|r| {
                        r.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-')
                    })
                };
                at = if number(start) {
                    Some(start)
                } else if number(span.start) && patched.get(span.clone()) == text.get(span.clone())
                {
                    Some(span.start)
                } else {
                    return None;
                };
            }
        }
    }
    None
}

/// `r` extended over the rest of a number literal that `with_document` shortened to 0.
fn past_literal(text: &str, r: Range<usize>) -> Range<usize> {
    let rest = text.get(r.end..).unwrap_or("");
    let more = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || "_.+-".contains(c)))
        .unwrap_or(rest.len());
    r.start..r.end + more
}

/// Replaces the number literal at `start` by `0` and spaces: the same width, so every
/// other offset holds.
fn patch_literal(text: &mut String, start: usize) {
    let Some(rest) = text.get(start..) else {
        return;
    };
    let len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || "_.+-".contains(c)))
        .unwrap_or(rest.len());
    if len > 0 {
        let zero = format!("0{}", " ".repeat(len - 1));
        text.replace_range(start..start + len, &zero);
    }
}

/// The range of a whole-number type serde names in "expected u32".
fn integer_range(ty: &str) -> Option<(i128, i128)> {
    Some(match ty {
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" | "usize" => (0, u64::MAX.into()),
        "i8" => (i8::MIN.into(), i8::MAX.into()),
        "i16" => (i16::MIN.into(), i16::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "i64" | "isize" => (i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    })
}

fn clip(s: &str) -> String {
    const MAX_CHARS: usize = 40;
    match s.char_indices().nth(MAX_CHARS) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// serde's messages are written for programmers; operators get the key and its fix.
/// `literal` is the offending value as written in the file.
fn friendly(msg: &str, literal: &str) -> String {
    // "invalid type: integer `99999999999999999999` as i128, expected u32",
    // "invalid value: integer `-1`, expected u16",
    // "invalid type: floating point `1e30`, expected u64"
    if let Some((what, ty)) = msg.rsplit_once(", expected ")
        && let Some((lo, hi)) = integer_range(ty.trim())
    {
        if what.starts_with("invalid type: floating point") {
            return format!(
                "expected a whole number (no fraction or exponent), got {}",
                clip(literal)
            );
        }
        if what.starts_with("invalid type: integer") || what.starts_with("invalid value: integer") {
            return format!(
                "expected a whole number from {lo} to {hi}, got {}",
                clip(literal)
            );
        }
    }
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or("");
        let expected: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        let closest = expected
            .iter()
            .map(|k| (strsim::damerau_levenshtein(name, k), *k))
            .min()
            .filter(|(d, k)| *d <= (k.len() / 2).max(2));
        return match closest {
            Some((_, k)) => format!("unknown key `{name}`, did you mean `{k}`?"),
            None => format!(
                "unknown key `{name}`; known keys here: {}",
                expected.join(", ")
            ),
        };
    }
    if let Some(rest) = msg.strip_prefix("unknown variant `") {
        let name = rest.split('`').next().unwrap_or("");
        let expected: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        return format!("expected one of {}, got \"{name}\"", expected.join(", "));
    }
    msg.trim().to_string()
}

pub(crate) fn line_of(src: &str, offset: usize) -> usize {
    let offset = offset.min(src.len());
    src.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn line_range(text: &str, offset: usize) -> Option<Range<usize>> {
    if text.is_empty() {
        return None;
    }
    let mut offset = offset.min(text.len().saturating_sub(1));
    // An error at the end of a file ending in "é" points inside the character.
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let end = text[offset..]
        .find('\n')
        .map(|i| offset + i)
        .unwrap_or(text.len());
    Some(start..end)
}

fn is_blank(s: &str) -> bool {
    s.chars().all(char::is_whitespace)
}

/// Replaces a range by spaces, keeping newlines, so offsets elsewhere do not move.
fn blank_out(text: &mut String, r: Range<usize>) {
    let replaced: String = text[r.clone()]
        .chars()
        .map(|c| if c == '\n' { '\n' } else { ' ' })
        .collect();
    // Multi-byte characters become several spaces: keep the byte length.
    let pad = r.len() - replaced.chars().count();
    let replaced = replaced + &" ".repeat(pad.min(r.len()));
    let mut bytes = replaced.into_bytes();
    bytes.truncate(r.len());
    text.replace_range(r, std::str::from_utf8(&bytes).unwrap_or(""));
}

/// Finds the innermost key whose text holds `span`: its dotted path, and the range to
/// blank (the whole `key = value`, or a table from its header to its last line).
fn locate(table: &Table, span: &Range<usize>, prefix: &str) -> (String, Option<Range<usize>>) {
    let mut best: (String, Option<Range<usize>>) = (prefix.to_string(), None);
    for (k, item) in table.iter() {
        let Some((key, _)) = table.get_key_value(k) else {
            continue;
        };
        let path = if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        };
        let Some(whole) = item_range(key.span(), item) else {
            continue;
        };
        if !(whole.start <= span.start && span.start <= whole.end) {
            continue;
        }
        if let Item::Table(t) = item {
            let inner = locate(t, span, &path);
            if inner.1.is_some() {
                return inner;
            }
        }
        if let Some(t) = item.as_inline_table() {
            // Inside braces only the whole `key = { … }` can be blanked; the message
            // still names the inner key.
            let (inner, _) = locate_inline(t, span, &path);
            if inner != path {
                return (inner, Some(whole));
            }
        }
        // One entry of `[[scale]]`, not every target, holds the key.
        if let Item::ArrayOfTables(a) = item {
            for (i, t) in a.iter().enumerate() {
                let entry = format!("{path}.{i}");
                let Some(r) = item_range(None, &Item::Table(t.clone())) else {
                    continue;
                };
                if r.start <= span.start && span.start <= r.end {
                    let inner = locate(t, span, &entry);
                    return if inner.1.is_some() {
                        inner
                    } else {
                        (entry, Some(r))
                    };
                }
            }
        }
        best = (path, Some(whole));
    }
    best
}

fn locate_inline(
    t: &toml_edit::InlineTable,
    span: &Range<usize>,
    prefix: &str,
) -> (String, Option<Range<usize>>) {
    for (k, v) in t.iter() {
        if let (Some((key, _)), Some(vs)) = (t.get_key_value(k), v.span()) {
            let start = key.span().map(|s| s.start).unwrap_or(vs.start);
            if start <= span.start && span.start <= vs.end {
                return (format!("{prefix}.{k}"), None);
            }
        }
    }
    (prefix.to_string(), None)
}

fn item_range(key_span: Option<Range<usize>>, item: &Item) -> Option<Range<usize>> {
    match item {
        Item::Table(t) => {
            let mut r = t.span().or(key_span.clone())?;
            for (_, child) in t.iter() {
                if let Some(c) = item_range(None, child) {
                    r.end = r.end.max(c.end);
                }
            }
            Some(r)
        }
        Item::Value(v) => {
            let vs = v.span()?;
            Some(key_span.map(|k| k.start).unwrap_or(vs.start)..vs.end)
        }
        Item::ArrayOfTables(a) => {
            let mut r: Option<Range<usize>> = None;
            for t in a.iter() {
                if let Some(s) = item_range(None, &Item::Table(t.clone())) {
                    r = Some(match r {
                        Some(r) => r.start.min(s.start)..r.end.max(s.end),
                        None => s,
                    });
                }
            }
            r
        }
        Item::None => None,
    }
}

/// The span of a dotted key; a number picks an entry of an array of tables
/// (`scale.0.metric`).
fn span_of_key(root: &Table, dotted: &str) -> Option<Range<usize>> {
    let mut table = root;
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        let (key, item) = table.get_key_value(part)?;
        if parts.peek().is_none() {
            return item.span().or_else(|| key.span());
        }
        if let Some(inline) = item.as_inline_table() {
            // `template = { memory_mib = … }`: the rest of the path is inside the braces.
            let rest: Vec<&str> = parts.collect();
            let (k, v) = inline.get_key_value(rest.first()?)?;
            return v.span().or_else(|| k.span());
        }
        table = match item {
            Item::ArrayOfTables(a) => {
                let i: usize = parts.next()?.parse().ok()?;
                let t = a.get(i)?;
                if parts.peek().is_none() {
                    return t.span();
                }
                t
            }
            other => other.as_table()?,
        };
    }
    None
}
