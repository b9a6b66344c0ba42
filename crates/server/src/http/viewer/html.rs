//! Putting text into HTML safely: escaping, identifiers in URLs, and one-pass template filling.

use tessera_iiif::encode_identifier;

/// `text` with `&`, `<`, `>`, `"` and `'` as character references: safe in element content and in
/// quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `identifier` as one URL path segment, the way IIIF needs it: every byte but unreserved
/// characters, `:` and `@` percent-encoded, `/` as `%2F`.
pub fn url_segment(identifier: &str) -> String {
    encode_identifier(identifier, false)
}

/// `template` with each `{{name}}` replaced by its value from `values`, in one pass: a value is
/// never scanned for placeholders itself, so text from a request cannot name one. Values go in as
/// they are (escape them first); a placeholder without a value is left as written.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out =
        String::with_capacity(template.len() + values.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let value = after.find("}}").and_then(|end| {
            let name = &after[..end];
            values
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v, end))
        });
        match value {
            Some((v, end)) => {
                out.push_str(v);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("plain-id_1.tif"), "plain-id_1.tif");
    }

    #[test]
    fn identifiers_become_one_segment() {
        assert_eq!(
            url_segment("lax:13410/fig 4.tif"),
            "lax:13410%2Ffig%204.tif"
        );
        assert_eq!(url_segment("a\"b<c>?#&"), "a%22b%3Cc%3E%3F%23%26");
        assert_eq!(url_segment("é"), "%C3%A9");
    }

    #[test]
    fn fills_in_one_pass() {
        let t = "<p>{{a}} and {{b}}</p>{{missing}}{{";
        assert_eq!(
            fill(t, &[("a", "{{b}}"), ("b", "two")]),
            "<p>{{b}} and two</p>{{missing}}{{"
        );
        assert_eq!(fill("{{a}}{{a}}", &[("a", "x")]), "xx");
        assert_eq!(fill("no placeholders", &[("a", "x")]), "no placeholders");
    }
}
