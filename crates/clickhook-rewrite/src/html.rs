//! Rewriting the links of an HTML body with lol_html.
//!
//! Only the start tags of `<a>` and `<area>` elements are touched. Everything else (text,
//! comments, `<script>` and `<style>` contents, the doctype, other tags) is copied through by
//! lol_html byte for byte, and so is an `<a>` or `<area>` whose link is left alone.
//!
//! When a start tag *is* changed, lol_html re-serializes that one tag: the attributes it did
//! not change keep their exact source text (quotes included), but the whitespace between
//! attributes becomes a single space, and the changed `href` is written double-quoted.
//!
//! That re-serialization is faithful except for one kind of malformed tag, which is therefore
//! never changed: one with an attribute whose name begins with `=`. The tokenizer only makes
//! such a name after a `/` (`<a x/=y>` has the attributes `x` and `=y`); written back as
//! `<a x =y>`, the `=y` becomes the value of `x`, and with a quote (`x/='y`) the value runs on
//! to the next quote, possibly to the end of the body, swallowing the rest of the message
//! (found by the `rewrite_html` fuzz target).

use std::borrow::Cow;

use lol_html::html_content::Element;
use lol_html::{RewriteStrSettings, element, rewrite_str};

use crate::RewriteError;
use crate::entities::{decode_attribute_value, escape_attribute_value};

/// The opt-out marker: a link carrying it is not tracked, and the marker is removed.
const NO_TRACK: &str = "data-pm-no-track";

/// Rewrites every trackable link in an HTML body. `track` gets the original URL (entities
/// already decoded, surrounding whitespace trimmed) and returns the tracked URL to put in its
/// place, or None to leave the link untouched.
///
/// A link is trackable when it is the `href` of an `<a>` or `<area>` element without a
/// `data-pm-no-track` attribute and its scheme is `http` or `https` (in any case). Every
/// `data-pm-no-track` attribute on an `<a>` or `<area>` is removed from the output. A tag that
/// could not be written back faithfully (see the module's documentation) is left as it is.
pub fn rewrite_html(
    html: &str,
    track: &mut dyn FnMut(&str) -> Option<String>,
) -> Result<String, RewriteError> {
    let settings = RewriteStrSettings::new()
        // lol_html's strict mode gives up on a few kinds of non-conforming markup (e.g. a
        // `<script>` inside `<select>`) whose parse depends on context a streaming parser
        // cannot see. That matters when a rewriter injects content; here the worst a wrong
        // guess can do is leave a link untracked, which beats refusing to send the email.
        .with_strict(false)
        .append_element_content_handler(element!("a, area", |el| {
            rewrite_link(el, track);
            Ok(())
        }));
    rewrite_str(html, settings).map_err(|e| RewriteError::Html(e.to_string()))
}

fn rewrite_link(el: &mut Element<'_, '_>, track: &mut dyn FnMut(&str) -> Option<String>) {
    if !rewrites_faithfully(el) {
        return;
    }
    if el.has_attribute(NO_TRACK) {
        el.remove_attribute(NO_TRACK);
        return;
    }
    let Some(raw) = el.get_attribute("href") else {
        return;
    };
    // lol_html returns the attribute's source text: character references are still encoded.
    let decoded = decode_attribute_value(&raw);
    let Some(url) = trackable_url(&decoded) else {
        return;
    };
    if let Some(tracked) = track(&url) {
        // lol_html escapes `"` in the new value but not `&`; escape both ourselves.
        // `set_attribute` only fails for an invalid attribute *name*, and "href" is valid.
        let _ = el.set_attribute("href", &escape_attribute_value(&tracked));
    }
}

/// Whether lol_html can write this start tag back, changed, without changing how the rest of
/// it parses: not when an attribute's name begins with `=` (see the module's documentation).
fn rewrites_faithfully(el: &Element<'_, '_>) -> bool {
    !el.attributes().iter().any(|a| a.name().starts_with('='))
}

/// The URL a browser would follow for this (decoded) `href`, if its scheme is http or https.
///
/// As the URL standard does before parsing: leading and trailing C0 controls and spaces are
/// trimmed, and tabs and newlines anywhere are removed (`"ht\ntps://x"` is `https://x` to a
/// browser, and a newline would make an invalid `Location` header).
fn trackable_url(href: &str) -> Option<Cow<'_, str>> {
    let trimmed = href.trim_matches(|c: char| c <= ' ');
    let url: Cow<'_, str> = if trimmed.contains(['\t', '\n', '\r']) {
        Cow::Owned(
            trimmed
                .chars()
                .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
                .collect(),
        )
    } else {
        Cow::Borrowed(trimmed)
    };
    has_http_scheme(&url).then_some(url)
}

/// Whether `url` starts with `http:` or `https:`, ignoring case.
pub(crate) fn has_http_scheme(url: &str) -> bool {
    let starts = |prefix: &str| {
        url.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    starts("http:") || starts("https:")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Rewrites with a `track` that records what it was given and answers `T(<n>)`.
    fn rewrite(html: &str) -> (String, Vec<String>) {
        let mut seen = Vec::new();
        let out = rewrite_html(html, &mut |url| {
            seen.push(url.to_owned());
            Some(format!("https://t.example/T{}", seen.len()))
        })
        .unwrap();
        (out, seen)
    }

    fn untouched(html: &str) {
        let (out, seen) = rewrite(html);
        assert_eq!(out, html);
        assert!(seen.is_empty(), "tracked {seen:?}");
    }

    #[test]
    fn interface_example() {
        let (out, seen) = rewrite(
            r#"<a href="https://example.com">x</a> <a data-pm-no-track href="https://example.org">y</a>"#,
        );
        assert_eq!(
            out,
            r#"<a href="https://t.example/T1">x</a> <a href="https://example.org">y</a>"#
        );
        assert_eq!(seen, ["https://example.com"]);
    }

    #[test]
    fn no_track_is_removed_wherever_it_is_and_whatever_the_link() {
        let (out, seen) = rewrite(concat!(
            r#"<a href="https://a.example" DATA-PM-NO-TRACK="">1</a>"#,
            r#"<a data-pm-no-track>2</a>"#,
            r#"<a href="mailto:x@example.com" data-pm-no-track class=c>3</a>"#,
            r#"<area data-pm-no-track href="https://b.example">"#,
        ));
        assert_eq!(
            out,
            concat!(
                r#"<a href="https://a.example">1</a>"#,
                r#"<a>2</a>"#,
                r#"<a href="mailto:x@example.com" class=c>3</a>"#,
                r#"<area href="https://b.example">"#,
            )
        );
        assert!(seen.is_empty());
    }

    #[test]
    fn entities_are_decoded_for_track_and_the_result_is_escaped() {
        let mut seen = Vec::new();
        let out = rewrite_html(
            r#"<a href="https://example.com/?a=1&amp;b=2&#38;c=&quot;3&quot;&lt;&gt;&apos;">x</a>"#,
            &mut |url| {
                seen.push(url.to_owned());
                Some("https://t.example/?q=\"a\"&r=1".to_owned())
            },
        )
        .unwrap();
        assert_eq!(seen, [r#"https://example.com/?a=1&b=2&c="3"<>'"#]);
        assert_eq!(
            out,
            r#"<a href="https://t.example/?q=&quot;a&quot;&amp;r=1">x</a>"#
        );
    }

    #[test]
    fn legacy_references_in_query_strings_stay_as_browsers_read_them() {
        let (_, seen) = rewrite(r#"<a href="https://e.example/?a=1&copy=2&lang=en&amp=3">x</a>"#);
        assert_eq!(seen, ["https://e.example/?a=1&copy=2&lang=en&amp=3"]);
    }

    #[test]
    fn attribute_order_quotes_and_case() {
        let (out, seen) = rewrite(concat!(
            r#"<a class="btn" href='https://a.example/1' target=_blank>a</a>"#,
            "<a href=https://b.example/2>b</a>",
            r#"<A HREF="HTTPS://C.EXAMPLE/3">c</A>"#,
            r#"<a id=x HrEf="Http://d.example/4">d</a>"#,
        ));
        assert_eq!(
            seen,
            [
                "https://a.example/1",
                "https://b.example/2",
                "HTTPS://C.EXAMPLE/3",
                "Http://d.example/4"
            ]
        );
        assert_eq!(
            out,
            concat!(
                r#"<a class="btn" href="https://t.example/T1" target=_blank>a</a>"#,
                r#"<a href="https://t.example/T2">b</a>"#,
                r#"<A HREF="https://t.example/T3">c</A>"#,
                r#"<a id=x HrEf="https://t.example/T4">d</a>"#,
            )
        );
    }

    #[test]
    fn unquoted_value_ending_in_slash() {
        let (out, seen) = rewrite("<a href=https://a.example/>a</a><a href=https://b.example/ />b");
        assert_eq!(seen, ["https://a.example/", "https://b.example/"]);
        assert_eq!(
            out,
            r#"<a href="https://t.example/T1">a</a><a href="https://t.example/T2" />b"#
        );
    }

    #[test]
    fn whitespace_around_the_url_is_trimmed() {
        let (_, seen) = rewrite(
            "<a href=\"\n  https://a.example/x \t\">a</a><a href=\"ht\ntps://b.example/\">b</a>",
        );
        assert_eq!(seen, ["https://a.example/x", "https://b.example/"]);
        let (_, seen) = rewrite(r#"<a href="&#32;&#10;https://c.example/">c</a>"#);
        assert_eq!(seen, ["https://c.example/"]);
    }

    #[test]
    fn only_http_and_https_are_tracked() {
        for href in [
            "mailto:john@example.com",
            "tel:+15551234",
            "#top",
            "/relative/path",
            "relative.html",
            "//example.com/scheme-relative",
            "javascript:alert(1)",
            "ftp://example.com/file",
            "httpx://example.com",
            "https//example.com",
            "data:text/html,hi",
            "",
        ] {
            untouched(&format!(r#"<a href="{href}">x</a>"#));
            untouched(&format!(r#"<a   class='k'   href='{href}' >x</a>"#));
        }
        untouched("<a name=anchor>no href</a><a href>empty</a>");
    }

    #[test]
    fn area_tags_are_tracked() {
        let (out, seen) = rewrite(
            r#"<map name="m"><area shape="rect" coords="0,0,1,1" href="https://a.example/"><AREA HREF="tel:1"></map>"#,
        );
        assert_eq!(seen, ["https://a.example/"]);
        assert_eq!(
            out,
            r#"<map name="m"><area shape="rect" coords="0,0,1,1" href="https://t.example/T1"><AREA HREF="tel:1"></map>"#
        );
    }

    #[test]
    fn nested_markup_inside_a_link_is_kept() {
        let html = r#"<a href="https://a.example/"><img src="https://cdn.example/i.png" alt="x"><b>bold <i>it</i></b> text</a>"#;
        let (out, seen) = rewrite(html);
        assert_eq!(seen, ["https://a.example/"]);
        assert_eq!(
            out,
            html.replace("https://a.example/", "https://t.example/T1")
        );
    }

    #[test]
    fn the_same_url_twice_is_tracked_twice() {
        let (out, seen) =
            rewrite(r#"<a href="https://a.example/">1</a><a href="https://a.example/">2</a>"#);
        assert_eq!(seen, ["https://a.example/", "https://a.example/"]);
        assert_eq!(
            out,
            r#"<a href="https://t.example/T1">1</a><a href="https://t.example/T2">2</a>"#
        );
    }

    #[test]
    fn track_returning_none_leaves_the_tag_byte_for_byte() {
        let html = "<a   href = 'https://a.example/?a=1&amp;b=2'\n class=x >x</a>";
        let mut calls = 0;
        let out = rewrite_html(html, &mut |_| {
            calls += 1;
            None
        })
        .unwrap();
        assert_eq!(out, html);
        assert_eq!(calls, 1);
    }

    #[test]
    fn comments_scripts_styles_and_text_are_not_rewritten() {
        untouched(concat!(
            "<!DOCTYPE html>\n<html><head>",
            r#"<style>a[href="http://x.example"] { color: red }</style>"#,
            r#"<script>document.write('<a href="http://x.example">x</a>');</script>"#,
            r#"<title><a href="http://x.example">t</a></title>"#,
            "</head><body>",
            r#"<!-- <a href="http://x.example">commented out</a> -->"#,
            r#"<textarea><a href="http://x.example">t</a></textarea>"#,
            "<p>Visit http://x.example today</p>",
            r#"<div data-href="https://x.example" title='<a href="https://x.example">'>"#,
            r#"<link rel="stylesheet" href="https://x.example/s.css"><img src="https://x.example/i.png">"#,
            "</body></html>",
        ));
    }

    #[test]
    fn the_rest_of_a_document_is_preserved() {
        let html = concat!(
            "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\">\r\n",
            "<html><!--[if mso]><x:xml></x:xml><![endif]-->\n<body style='margin:0'>\n",
            "  <table><tr><td>\u{1F600} caf\u{E9}</td></tr></table>\n",
            "  <a href=\"https://a.example/\" style=\"color:#fff\">Go</a>&nbsp;&copy;\n",
            "</body></html>\n",
        );
        let (out, _) = rewrite(html);
        assert_eq!(
            out,
            html.replace("https://a.example/", "https://t.example/T1")
        );
    }

    #[test]
    fn malformed_html_does_not_fail() {
        for html in [
            "<a href=\"https://a.example/",
            "<a href='https://a.example/'",
            "<a href=https://a.example/>unclosed",
            "</a><a><a href=x>",
            "<<a href=\"https://a.example/\">>",
            "<select><xmp><script>\"use strict\";</script></select><a href=\"https://a.example/\">x</a>",
            "<frameset><script>x</script><a href=\"https://a.example/\">",
            "<svg><a href=\"https://a.example/\"><script>1</script></a></svg>",
            "<a href=\"https://a.example/\" href=\"https://b.example/\">dup</a>",
            "<!-- unterminated <a href=\"https://a.example/\">",
            "<script><a href=\"https://a.example/\">",
        ] {
            let result = rewrite_html(html, &mut |_| Some("T".to_owned()));
            assert!(result.is_ok(), "{html}: {result:?}");
        }
    }

    /// Found by the `rewrite_html` fuzz target: `b/='c` gives the attributes `b` and `='c`,
    /// which lol_html would write back as `b ='c`, the start of a value for `b` that runs to
    /// the next `'`: the rest of the body would have become part of the tag.
    #[test]
    fn a_tag_that_cannot_be_written_back_faithfully_is_left_alone() {
        for html in [
            "<a href=\"https://a.example/\" b/='c>x</a><p>the rest of the message</p>",
            "<a b/=c href=\"https://a.example/\">x</a>",
            "<area data-pm-no-track x/=y href=https://a.example/>",
            "<a href=\"https://a.example/\" / ='c>x</a>",
        ] {
            untouched(html);
        }
        // The same tags with a space instead of the `/` are ordinary tags and are tracked.
        let (out, seen) = rewrite("<a href=\"https://a.example/\" b ='c'>x</a><p>rest</p>");
        assert_eq!(seen, ["https://a.example/"]);
        assert_eq!(out, "<a href=\"https://t.example/T1\" b ='c'>x</a><p>rest</p>");
    }

    #[test]
    fn a_duplicate_href_uses_the_first_as_browsers_do() {
        let (out, seen) =
            rewrite(r#"<a href="https://a.example/" href="https://b.example/">x</a>"#);
        assert_eq!(seen, ["https://a.example/"]);
        assert_eq!(
            out,
            r#"<a href="https://t.example/T1" href="https://b.example/">x</a>"#
        );
    }

    #[test]
    fn huge_attributes_are_fine() {
        let long = "a".repeat(2_000_000);
        let html = format!(r#"<a href="https://a.example/?q={long}" title="{long}">x</a>"#);
        let (out, seen) = rewrite(&html);
        assert_eq!(seen, [format!("https://a.example/?q={long}")]);
        assert_eq!(
            out,
            format!(r#"<a href="https://t.example/T1" title="{long}">x</a>"#)
        );
        let unclosed = format!("<a href=\"{long}");
        assert_eq!(rewrite(&unclosed).0, unclosed);
    }

    #[test]
    fn scheme_check() {
        assert!(has_http_scheme("http://x"));
        assert!(has_http_scheme("HTTPS://x"));
        assert!(has_http_scheme("hTtP:x"));
        assert!(!has_http_scheme("http"));
        assert!(!has_http_scheme("httpss://x"));
        assert!(!has_http_scheme("é://x"));
        assert!(!has_http_scheme("htt\u{E9}://x"));
    }

    /// Strings that look like HTML often enough to reach the interesting code paths.
    fn htmlish() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("<a href=\"https://x.example/?a=1&amp;b\">".to_owned()),
            Just("<A HREF='http://y'>".to_owned()),
            Just("<area href=https://z/>".to_owned()),
            Just("<a data-pm-no-track href=\"https://n\">".to_owned()),
            Just("</a>".to_owned()),
            Just("<!--".to_owned()),
            Just("-->".to_owned()),
            Just("<script>".to_owned()),
            Just("</script>".to_owned()),
            Just("<select>".to_owned()),
            Just("<xmp>".to_owned()),
            Just("<svg>".to_owned()),
            Just("<!DOCTYPE html>".to_owned()),
            "[<>/=\"'&#;a-zA-Z :!\\-\u{E9}\u{1F600}]{0,12}",
        ];
        prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn none_leaves_arbitrary_input_unchanged(s in any::<String>()) {
            if let Ok(out) = rewrite_html(&s, &mut |_| None) {
                prop_assert_eq!(out, s);
            }
        }

        #[test]
        fn none_leaves_htmlish_input_unchanged(s in htmlish()) {
            if let Ok(out) = rewrite_html(&s, &mut |_| None) {
                // `data-pm-no-track` is removed even when nothing is tracked.
                if !s.to_ascii_lowercase().contains(NO_TRACK) {
                    prop_assert_eq!(out, s);
                }
            }
        }

        #[test]
        fn track_only_ever_sees_http_urls(s in htmlish()) {
            let mut seen = Vec::new();
            let _ = rewrite_html(&s, &mut |url| {
                seen.push(url.to_owned());
                Some("https://t.example/T".to_owned())
            });
            for url in seen {
                prop_assert!(has_http_scheme(&url), "{}", url);
                prop_assert_eq!(url.trim_matches(|c: char| c <= ' '), url.as_str());
            }
        }
    }
}
