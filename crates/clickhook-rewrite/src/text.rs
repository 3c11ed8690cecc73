//! Rewriting the links of a plain-text body with linkify.
//!
//! Only URLs written with an explicit `http://` or `https://` scheme are tracked: a bare
//! `www.example.com` or `example.com` is left alone, as are `mailto:` and every other scheme.
//! Where a URL ends (trailing `.`, `,`, `)`, quotes, ...) is linkify's call.

use linkify::{LinkFinder, LinkKind};

use crate::html::has_http_scheme;

/// Rewrites every http(s) URL found in a plain-text body.
///
/// `track` gets each URL exactly as it appears in the text and returns the tracked URL to put
/// in its place, or None to leave it. Everything that is not a replaced URL is copied as is.
pub fn rewrite_text(text: &str, track: &mut dyn FnMut(&str) -> Option<String>) -> String {
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url]).url_must_have_scheme(true);

    let mut out = String::with_capacity(text.len());
    let mut copied_up_to = 0;
    for link in finder.links(text) {
        let url = link.as_str();
        if !has_http_scheme(url) {
            continue;
        }
        if let Some(tracked) = track(url) {
            out.push_str(&text[copied_up_to..link.start()]);
            out.push_str(&tracked);
            copied_up_to = link.end();
        }
    }
    out.push_str(&text[copied_up_to..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rewrite(text: &str) -> (String, Vec<String>) {
        let mut seen = Vec::new();
        let out = rewrite_text(text, &mut |url| {
            seen.push(url.to_owned());
            Some(format!("<T{}>", seen.len()))
        });
        (out, seen)
    }

    #[test]
    fn interface_example() {
        let (out, seen) = rewrite("See https://example.com");
        assert_eq!(out, "See <T1>");
        assert_eq!(seen, ["https://example.com"]);
    }

    #[test]
    fn several_urls() {
        let (out, seen) = rewrite(
            "First http://a.example/x?y=1&z=2#f then\nHTTPS://B.EXAMPLE/ and https://a.example/x?y=1&z=2#f again",
        );
        assert_eq!(out, "First <T1> then\n<T2> and <T3> again");
        assert_eq!(
            seen,
            [
                "http://a.example/x?y=1&z=2#f",
                "HTTPS://B.EXAMPLE/",
                "https://a.example/x?y=1&z=2#f"
            ]
        );
    }

    #[test]
    fn trailing_punctuation_is_not_part_of_the_link() {
        let (out, seen) = rewrite(
            "See https://example.com. Or (https://example.org/a), \"https://example.net/b\"! https://e.example/c?",
        );
        assert_eq!(out, "See <T1>. Or (<T2>), \"<T3>\"! <T4>?");
        assert_eq!(
            seen,
            [
                "https://example.com",
                "https://example.org/a",
                "https://example.net/b",
                "https://e.example/c"
            ]
        );
    }

    #[test]
    fn balanced_parentheses_stay_in_the_link() {
        let (_, seen) = rewrite("https://en.wikipedia.org/wiki/Rust_(programming_language).");
        assert_eq!(
            seen,
            ["https://en.wikipedia.org/wiki/Rust_(programming_language)"]
        );
    }

    #[test]
    fn only_explicit_http_and_https_are_tracked() {
        for text in [
            "Mail mailto:john@example.com or john@example.com",
            "Go to www.example.com or example.com/path",
            "ftp://files.example.com/x and ssh://host.example",
            "Call tel:+15551234",
            "Not a link: http:// nor https:",
            "xhttp://example.com is another scheme",
            "",
        ] {
            let (out, seen) = rewrite(text);
            assert_eq!(out, text);
            assert!(seen.is_empty(), "{text}: {seen:?}");
        }
    }

    #[test]
    fn unicode_around_links() {
        let (out, seen) = rewrite(
            "Café → https://example.com/menu ← ünïcödé 😀 https://example.org\n日本語 https://example.net/パス です",
        );
        assert_eq!(out, "Café → <T1> ← ünïcödé 😀 <T2>\n日本語 <T3> です");
        assert_eq!(
            seen,
            [
                "https://example.com/menu",
                "https://example.org",
                "https://example.net/パス"
            ]
        );
    }

    #[test]
    fn none_leaves_a_link_in_place() {
        let mut n = 0;
        let out = rewrite_text("a https://1.example b https://2.example c", &mut |url| {
            n += 1;
            (n == 2).then(|| format!("[{url}]"))
        });
        assert_eq!(out, "a https://1.example b [https://2.example] c");
    }

    proptest! {
        #[test]
        fn none_leaves_the_text_unchanged(s in any::<String>()) {
            prop_assert_eq!(rewrite_text(&s, &mut |_| None), s);
        }

        #[test]
        fn identity_leaves_the_text_unchanged(
            s in "([a-z:/.()\"' ]|https?://|www\\.|[a-z]+\\.com|\u{E9}|\u{1F600}){0,30}",
        ) {
            let mut seen = Vec::new();
            let out = rewrite_text(&s, &mut |url| {
                seen.push(url.to_owned());
                Some(url.to_owned())
            });
            prop_assert_eq!(out, s);
            for url in seen {
                prop_assert!(has_http_scheme(&url), "{}", url);
            }
        }
    }
}
