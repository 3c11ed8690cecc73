//! Link rewriting for clickhook: before a message is sent, every trackable link in its HTML
//! and text bodies is swapped for a tracked link.
//!
//! This crate only *finds and replaces* links. It does not know what a tracked link looks
//! like, how it is signed or where it is stored: the caller hands in a `track` callback that
//! gets the original URL and answers with the replacement (or `None` to leave the link alone).
//! Keeping it pure (no I/O, no clock, no configuration) is what lets the parsing rules, which
//! are where the subtle bugs live, be pinned down by plain unit and property tests.
//!
//! Why it is built the way it is:
//!
//! - **HTML is rewritten with a real HTML tokenizer** ([`lol_html`]), never with regexes. A
//!   regex cannot tell an `<a href>` from the same characters inside a comment, a `<script>`,
//!   a `<style>` or an attribute value, and every such mistake either breaks someone's email
//!   or tracks something that was never a link. lol_html streams, so the work is linear in
//!   the size of the body, and it leaves every byte it is not asked to change as it was.
//! - **Only `http:` and `https:` links are tracked** (as Postmark does). `mailto:`, `tel:`,
//!   fragments, relative and `javascript:` URLs pass through byte for byte: redirecting them
//!   through a web link host would break them.
//! - **The URL handed to `track` is the one a browser would follow**: character references are
//!   decoded the way the HTML standard decodes them in an attribute value (lol_html hands out
//!   the raw attribute text, `&amp;` and all), and surrounding whitespace plus embedded
//!   tab/newline characters are removed as the URL parser does. Otherwise the link host would
//!   later redirect to `...?a=1&amp;b=2`, which is not where the sender pointed.
//! - **`data-pm-no-track` opts a link out** and the marker attribute is stripped from the
//!   output, matching Postmark.
//! - **Plain text uses [`linkify`]**, restricted to URLs with an explicit `http://` or
//!   `https://` scheme, and inherits its well-tested rules for trailing punctuation
//!   (`See https://example.com.` does not swallow the period).
//!
//! Size limits are deliberately not enforced here: the API enforces body limits before this
//! crate sees a body, and everything here runs in time linear in its input.

mod entities;
mod html;
mod text;

pub use html::rewrite_html;
pub use text::rewrite_text;

/// Why an HTML body could not be rewritten.
///
/// With the settings this crate uses, lol_html does not give up on malformed markup (it is
/// run non-strict) and has no memory limit, so in practice this is only reached if the
/// rewriter itself reports an internal failure. The caller should treat the body as
/// untrackable rather than send it half rewritten.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    /// The HTML rewriter failed; the message says why.
    #[error("rewriting the HTML body failed: {0}")]
    Html(String),
}
