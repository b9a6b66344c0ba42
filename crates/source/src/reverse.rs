//! From an object key back to the identifier a rule serves it under: the inverse of a rule's
//! identifier pattern and key template, used to list a whole collection (`tessera check` over the
//! configured rules). Only patterns made of anchors, literal text and capture groups can be
//! inverted; every identifier found this way is checked by running the rules forwards.

use regex::Regex;
use regex_syntax::hir::{Hir, HirKind};

/// A rule's identifier pattern as literal text and capture groups, when it has that shape.
#[derive(Debug, Clone)]
pub(crate) struct IdentifierShape(Vec<Piece>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Group(usize),
}

impl IdentifierShape {
    /// The shape of `pattern`, or `None` when its top level holds anything but anchors, literal
    /// text and capture groups (classes, repetitions and alternations cannot be rebuilt).
    pub(crate) fn of(pattern: &str) -> Option<Self> {
        let hir = regex_syntax::parse(pattern).ok()?;
        let mut pieces = Vec::new();
        push(&hir, &mut pieces)?;
        Some(Self(pieces))
    }

    /// The identifier made of the literal text and `groups` (values by capture index); `None` when
    /// a group it needs has no value.
    fn build(&self, groups: &[Option<String>]) -> Option<String> {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Group(i) => out.push_str(groups.get(*i)?.as_deref()?),
            }
        }
        Some(out)
    }
}

fn push(hir: &Hir, out: &mut Vec<Piece>) -> Option<()> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => out.push(Piece::Text(std::str::from_utf8(&lit.0).ok()?.into())),
        HirKind::Capture(c) => out.push(Piece::Group(usize::try_from(c.index).ok()?)),
        HirKind::Concat(parts) => {
            for part in parts {
                push(part, out)?;
            }
        }
        _ => return None,
    }
    Some(())
}

/// A key template run backwards: a regular expression over keys whose captures stand for the
/// rule's groups that the template expands.
#[derive(Debug, Clone)]
pub(crate) struct KeyInverse {
    regex: Regex,
    /// For capture `i + 1` of `regex`, the rule group it stands for.
    groups: Vec<usize>,
}

impl KeyInverse {
    /// Invert `template` (`$1`, `$name`, `${name}`, `$$`, as `regex` expands them) for a rule
    /// whose identifier pattern is `rule`.
    pub(crate) fn new(template: &str, rule: &Regex) -> Option<Self> {
        let group_of = |name: &str| -> Option<usize> {
            match name.parse::<usize>() {
                Ok(i) => Some(i),
                Err(_) => rule.capture_names().position(|n| n == Some(name)),
            }
        };
        let mut pattern = String::from("^");
        let mut groups = Vec::new();
        let mut rest = template;
        while let Some(at) = rest.find('$') {
            pattern.push_str(&regex::escape(&rest[..at]));
            let after = &rest[at + 1..];
            let (name, tail) = if let Some(t) = after.strip_prefix('$') {
                pattern.push_str(&regex::escape("$"));
                rest = t;
                continue;
            } else if let Some(braced) = after.strip_prefix('{') {
                match braced.split_once('}') {
                    Some((name, tail)) => (name, tail),
                    None => ("", after),
                }
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                after.split_at(end)
            };
            if name.is_empty() {
                // Not a reference: `regex` keeps the `$` as written.
                pattern.push_str(&regex::escape("$"));
            } else if let Some(group) = group_of(name) {
                pattern.push_str("(.*?)");
                groups.push(group);
            }
            // An unknown group expands to nothing.
            rest = tail;
        }
        pattern.push_str(&regex::escape(rest));
        pattern.push('$');
        Some(Self {
            regex: Regex::new(&pattern).ok()?,
            groups,
        })
    }

    /// The identifier `key` comes from under a rule shaped `shape`, when the template can have
    /// produced it. Group 0 (the whole identifier) needs no shape.
    pub(crate) fn identifier(&self, key: &str, shape: Option<&IdentifierShape>) -> Option<String> {
        let captures = self.regex.captures(key)?;
        let mut values: Vec<Option<String>> = Vec::new();
        for (i, group) in self.groups.iter().enumerate() {
            let value = captures.get(i + 1)?.as_str();
            if values.len() <= *group {
                values.resize(group + 1, None);
            }
            match &values[*group] {
                Some(seen) if seen != value => return None,
                _ => values[*group] = Some(value.to_string()),
            }
        }
        match values.first() {
            Some(Some(whole)) => Some(whole.clone()),
            _ => shape?.build(&values),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inverse(pattern: &str, template: &str, key: &str) -> Option<String> {
        let rule = Regex::new(pattern).ok()?;
        let shape = IdentifierShape::of(pattern);
        KeyInverse::new(template, &rule)?.identifier(key, shape.as_ref())
    }

    #[test]
    fn pattern_captures_are_put_back() {
        let p = r"^lax:(\d+)/(.+)\.tif$";
        assert_eq!(
            inverse(p, "articles/$1/$2.tif", "articles/13410/fig4.tif").as_deref(),
            Some("lax:13410/fig4.tif")
        );
        assert_eq!(
            inverse(p, "articles/${1}/${2}.jpg", "articles/7/a.jpg").as_deref(),
            Some("lax:7/a.tif")
        );
        assert_eq!(inverse(p, "articles/$1/$2.tif", "other/7/a.tif"), None);
    }

    #[test]
    fn whole_match_and_named_groups() {
        assert_eq!(
            inverse(r"^(.+)$", "$0", "a/b.png").as_deref(),
            Some("a/b.png")
        );
        let p = r"^img:(?P<id>\w+)$";
        assert_eq!(
            inverse(p, "x/${id}.tif", "x/abc.tif").as_deref(),
            Some("img:abc")
        );
        assert_eq!(inverse(p, "x/$id-$id.tif", "x/a-b.tif"), None);
        assert_eq!(
            inverse(p, "x/$id-$id.tif", "x/a-a.tif").as_deref(),
            Some("img:a")
        );
        assert_eq!(inverse(p, "$$/$id", "$/q").as_deref(), Some("img:q"));
    }

    #[test]
    fn shapes_with_classes_or_repeats_are_not_inverted() {
        assert!(IdentifierShape::of(r"^a[bc]$").is_none());
        assert!(IdentifierShape::of(r"^(a|b)x*$").is_none());
        assert!(IdentifierShape::of(r"^ab+$").is_none());
        assert_eq!(inverse(r"^a\d+(.*)$", "$1", "k"), None);
    }
}
