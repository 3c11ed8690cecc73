//! The request itself: method and prefetch/preview headers.

use crate::Reason;

/// Headers that browsers and proxies use to say a request is speculative.
const PURPOSE_HEADERS: [&str; 4] = ["purpose", "sec-purpose", "x-purpose", "x-moz"];
/// Values of those headers that mean "nobody asked for this page yet".
const SPECULATIVE: [&str; 3] = ["prefetch", "preview", "prerender"];

/// Says whether a request on a tracked link is not a click at all, and why: any method but
/// GET (HEAD, OPTIONS, ...) is [`Reason::HeadRequest`]; a `Purpose`, `Sec-Purpose`,
/// `X-Purpose` or `X-Moz` header containing `prefetch`, `preview` or `prerender` (any case)
/// is [`Reason::PrefetchHeader`]. `None` means it is a GET that may be a click.
///
/// The link host calls this before recording a hit: such requests are redirected and never
/// recorded. Header names are matched case-insensitively; pass every header of the request
/// or only these four.
pub fn not_a_click<'a, I>(method: &str, headers: I) -> Option<Reason>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    if !method.trim().eq_ignore_ascii_case("GET") {
        return Some(Reason::HeadRequest);
    }
    for (name, value) in headers {
        let name = name.trim();
        if PURPOSE_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) && is_speculative(value) {
            return Some(Reason::PrefetchHeader);
        }
    }
    None
}

fn is_speculative(value: &str) -> bool {
    // Header values are short; cap the work anyway.
    let value = crate::agent::prefix_at_char_boundary(value, 256).to_ascii_lowercase();
    SPECULATIVE.iter().any(|s| value.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods() {
        assert_eq!(not_a_click("GET", []), None);
        assert_eq!(not_a_click("get", []), None);
        assert_eq!(not_a_click("HEAD", []), Some(Reason::HeadRequest));
        assert_eq!(not_a_click("OPTIONS", []), Some(Reason::HeadRequest));
        assert_eq!(not_a_click("POST", []), Some(Reason::HeadRequest));
    }

    #[test]
    fn purpose_headers() {
        for (name, value) in [
            ("Purpose", "prefetch"),
            ("Sec-Purpose", "prefetch;prerender"),
            ("sec-purpose", "prefetch"),
            ("X-Purpose", "preview"),
            ("X-Moz", "prefetch"),
            ("PURPOSE", "Prefetch"),
        ] {
            assert_eq!(
                not_a_click("GET", [(name, value)]),
                Some(Reason::PrefetchHeader),
                "{name}: {value}"
            );
        }
        // Other headers and other values are not prefetches.
        assert_eq!(not_a_click("GET", [("Purpose", "navigate")]), None);
        assert_eq!(not_a_click("GET", [("X-Requested-With", "prefetch")]), None);
        assert_eq!(not_a_click("GET", [("Accept", "text/html")]), None);
    }
}
