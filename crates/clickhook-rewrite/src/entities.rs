//! Decoding of HTML character references in an attribute value.
//!
//! lol_html hands out attribute values exactly as they appear in the source, so
//! `href="https://example.com/?a=1&amp;b=2"` comes back with the `&amp;` still in it. A
//! browser following that link goes to `...?a=1&b=2`, and that is the URL the link host must
//! later redirect to, so the value is decoded here the way the HTML standard's tokenizer
//! decodes it *inside an attribute value*:
//!
//! - numeric references (`&#38;`, `&#x26;`, `&#X26`), the `;` optional; zero, surrogates and
//!   values above U+10FFFF become U+FFFD, and 0x80–0x9F are read as windows-1252, as browsers do;
//! - named references terminated by `;` from the table below;
//! - the legacy names that browsers also accept *without* `;` (`&amp`, `&lt`, `&copy`, the
//!   Latin-1 set), except where the next character is `=` or alphanumeric. That exception is
//!   what keeps `?a=1&copy=2` and `?x=1&notify=1` intact: in an attribute they are not
//!   references.
//!
//! The table covers every legacy name, the ASCII punctuation names (`&colon;`, `&sol;`, ...)
//! that are sometimes used to disguise a scheme, and the common typographic ones. Any other
//! `&name;` (the HTML standard has about 2,200) is left as written, which is the safe side:
//! the link then reaches the link host exactly as it appears in the HTML.

use std::borrow::Cow;

/// The Latin-1 names, indexed by `code point - 0xA0`. All of them are legacy names: valid
/// with and without the trailing `;`.
const LATIN1: [&str; 96] = [
    "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", // A0-A7
    "uml", "copy", "ordf", "laquo", "not", "shy", "reg", "macr", // A8-AF
    "deg", "plusmn", "sup2", "sup3", "acute", "micro", "para", "middot", // B0-B7
    "cedil", "sup1", "ordm", "raquo", "frac14", "frac12", "frac34", "iquest", // B8-BF
    "Agrave", "Aacute", "Acirc", "Atilde", "Auml", "Aring", "AElig", "Ccedil", // C0-C7
    "Egrave", "Eacute", "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml", // C8-CF
    "ETH", "Ntilde", "Ograve", "Oacute", "Ocirc", "Otilde", "Ouml", "times", // D0-D7
    "Oslash", "Ugrave", "Uacute", "Ucirc", "Uuml", "Yacute", "THORN", "szlig", // D8-DF
    "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil", // E0-E7
    "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml", // E8-EF
    "eth", "ntilde", "ograve", "oacute", "ocirc", "otilde", "ouml", "divide", // F0-F7
    "oslash", "ugrave", "uacute", "ucirc", "uuml", "yacute", "thorn", "yuml", // F8-FF
];

/// The other legacy names (valid with and without `;`).
const LEGACY_OTHER: &[(&str, char)] = &[
    ("amp", '&'),
    ("AMP", '&'),
    ("lt", '<'),
    ("LT", '<'),
    ("gt", '>'),
    ("GT", '>'),
    ("quot", '"'),
    ("QUOT", '"'),
    ("COPY", '\u{A9}'),
    ("REG", '\u{AE}'),
];

/// Names that are only references when terminated by `;`.
const WITH_SEMICOLON: &[(&str, char)] = &[
    ("apos", '\''),
    // ASCII characters.
    ("Tab", '\t'),
    ("NewLine", '\n'),
    ("excl", '!'),
    ("num", '#'),
    ("dollar", '$'),
    ("percnt", '%'),
    ("lpar", '('),
    ("rpar", ')'),
    ("ast", '*'),
    ("midast", '*'),
    ("plus", '+'),
    ("comma", ','),
    ("period", '.'),
    ("sol", '/'),
    ("colon", ':'),
    ("semi", ';'),
    ("equals", '='),
    ("quest", '?'),
    ("commat", '@'),
    ("lsqb", '['),
    ("lbrack", '['),
    ("bsol", '\\'),
    ("rsqb", ']'),
    ("rbrack", ']'),
    ("Hat", '^'),
    ("lowbar", '_'),
    ("UnderBar", '_'),
    ("grave", '`'),
    ("DiacriticalGrave", '`'),
    ("lcub", '{'),
    ("lbrace", '{'),
    ("verbar", '|'),
    ("vert", '|'),
    ("VerticalLine", '|'),
    ("rcub", '}'),
    ("rbrace", '}'),
    // Typographic characters (the HTML 4 set outside Latin-1 that shows up in copy).
    ("OElig", '\u{152}'),
    ("oelig", '\u{153}'),
    ("Scaron", '\u{160}'),
    ("scaron", '\u{161}'),
    ("Yuml", '\u{178}'),
    ("fnof", '\u{192}'),
    ("circ", '\u{2C6}'),
    ("tilde", '\u{2DC}'),
    ("ensp", '\u{2002}'),
    ("emsp", '\u{2003}'),
    ("thinsp", '\u{2009}'),
    ("zwnj", '\u{200C}'),
    ("zwj", '\u{200D}'),
    ("lrm", '\u{200E}'),
    ("rlm", '\u{200F}'),
    ("ndash", '\u{2013}'),
    ("mdash", '\u{2014}'),
    ("lsquo", '\u{2018}'),
    ("rsquo", '\u{2019}'),
    ("sbquo", '\u{201A}'),
    ("ldquo", '\u{201C}'),
    ("rdquo", '\u{201D}'),
    ("bdquo", '\u{201E}'),
    ("dagger", '\u{2020}'),
    ("Dagger", '\u{2021}'),
    ("bull", '\u{2022}'),
    ("hellip", '\u{2026}'),
    ("permil", '\u{2030}'),
    ("lsaquo", '\u{2039}'),
    ("rsaquo", '\u{203A}'),
    ("euro", '\u{20AC}'),
    ("trade", '\u{2122}'),
];

/// Longest name in the tables above; a longer run of alphanumerics cannot be a known name.
const MAX_NAME_LEN: usize = 16;
/// Longest legacy name (`frac14`, `Agrave`, ...).
const MAX_LEGACY_LEN: usize = 6;

/// A legacy name: a reference with or without the `;`.
fn legacy(name: &str) -> Option<char> {
    if let Some(i) = LATIN1.iter().position(|n| *n == name) {
        // i < 96, so this is U+00A0..=U+00FF.
        return char::from_u32(0xA0 + i as u32);
    }
    LEGACY_OTHER
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
}

/// Any known name, when it is followed by `;`.
fn named(name: &str) -> Option<char> {
    legacy(name).or_else(|| {
        WITH_SEMICOLON
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| *c)
    })
}

/// What a numeric reference's value stands for, as the HTML standard maps it.
fn numeric(value: u32) -> char {
    // windows-1252 for the C1 range: what `&#150;` meant to the authors who wrote it.
    const C1: [u32; 32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, // 80-87
        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F, // 88-8F
        0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, // 90-97
        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178, // 98-9F
    ];
    let value = match value {
        0x80..=0x9F => C1[(value - 0x80) as usize],
        other => other,
    };
    // 0, surrogates and anything past U+10FFFF are not characters: U+FFFD.
    if value == 0 {
        return char::REPLACEMENT_CHARACTER;
    }
    char::from_u32(value).unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// Decodes the reference that starts right after an `&`. Returns the character and how many
/// bytes of `rest` it used, or `None` if the `&` does not start a reference here.
fn decode_one(rest: &str) -> Option<(char, usize)> {
    let bytes = rest.as_bytes();
    if bytes.first() == Some(&b'#') {
        let (hex, digits_start) = match bytes.get(1) {
            Some(b'x' | b'X') => (true, 2),
            _ => (false, 1),
        };
        let mut value: u32 = 0;
        let mut end = digits_start;
        while let Some(&b) = bytes.get(end) {
            let digit = if hex {
                (b as char).to_digit(16)
            } else {
                (b as char).to_digit(10)
            };
            let Some(digit) = digit else { break };
            // Saturate: anything this large is out of range whatever the remaining digits.
            value = value
                .saturating_mul(if hex { 16 } else { 10 })
                .saturating_add(digit)
                .min(0x11_0000);
            end += 1;
        }
        if end == digits_start {
            return None; // `&#` or `&#x` without digits is just text.
        }
        if bytes.get(end) == Some(&b';') {
            end += 1;
        }
        return Some((numeric(value), end));
    }

    // Named: entity names are ASCII alphanumerics. Look no further than the longest name
    // (plus one, to know the run is longer than any name): this keeps the scan bounded.
    let run = bytes
        .iter()
        .take(MAX_NAME_LEN + 1)
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    if run == 0 {
        return None;
    }
    if run <= MAX_NAME_LEN
        && bytes.get(run) == Some(&b';')
        && let Some(c) = named(&rest[..run])
    {
        return Some((c, run + 1));
    }
    // Without `;`: the longest legacy name that prefixes the run, and only if it is not
    // followed by `=` or an alphanumeric (the attribute-value rule).
    for len in (1..=run.min(MAX_LEGACY_LEN)).rev() {
        if let Some(c) = legacy(&rest[..len]) {
            return match bytes.get(len) {
                Some(b) if *b == b'=' || b.is_ascii_alphanumeric() => None,
                _ => Some((c, len)),
            };
        }
    }
    None
}

/// Decodes the character references in a raw attribute value.
pub(crate) fn decode_attribute_value(raw: &str) -> Cow<'_, str> {
    if !raw.contains('&') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        match decode_one(after) {
            Some((c, used)) => {
                out.push(c);
                rest = &after[used..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Escapes a value for use inside a double-quoted attribute value.
///
/// lol_html's `set_attribute` escapes `"` but writes `&` as is, so a value containing
/// `&amp;` (or `&lt` followed by text) would be read back by a browser as something else.
pub(crate) fn escape_attribute_value(value: &str) -> Cow<'_, str> {
    if !value.contains(['&', '"']) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 16);
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> String {
        decode_attribute_value(s).into_owned()
    }

    #[test]
    fn the_required_named_references() {
        assert_eq!(d("&amp;&lt;&gt;&quot;&apos;"), "&<>\"'");
        assert_eq!(
            d("https://example.com/?a=1&amp;b=2"),
            "https://example.com/?a=1&b=2"
        );
    }

    #[test]
    fn numeric_references() {
        assert_eq!(d("&#38;&#x26;&#X26;&#0038;"), "&&&&");
        assert_eq!(d("a&#38b"), "a&b"); // `;` is optional for numeric references
        assert_eq!(d("&#x1F600;"), "\u{1F600}");
        assert_eq!(
            d("&#0;&#xD800;&#x110000;&#99999999999999999999;"),
            "\u{FFFD}".repeat(4)
        );
        assert_eq!(d("&#150;&#x80;"), "\u{2013}\u{20AC}"); // windows-1252
        assert_eq!(d("&#;&#x;&#xg"), "&#;&#x;&#xg");
    }

    #[test]
    fn legacy_names_without_semicolon_follow_the_attribute_rule() {
        assert_eq!(d("?a=1&amp b"), "?a=1& b");
        assert_eq!(d("?a=1&amp"), "?a=1&");
        assert_eq!(d("?a=1&copy=2"), "?a=1&copy=2");
        assert_eq!(d("?a=1&ampb=2"), "?a=1&ampb=2");
        assert_eq!(d("?x=1&notify=1"), "?x=1&notify=1");
        assert_eq!(d("?x=1&lang=en"), "?x=1&lang=en");
        assert_eq!(d("&copy_"), "\u{A9}_");
        assert_eq!(d("&frac12;&frac12/"), "\u{BD}\u{BD}/");
        assert_eq!(d("&AMP;&QUOT;"), "&\"");
    }

    #[test]
    fn semicolon_only_and_unknown_names() {
        assert_eq!(d("https&colon;&sol;&sol;x"), "https://x");
        assert_eq!(d("&apos"), "&apos"); // `apos` needs its `;`
        assert_eq!(d("&notin;"), "&notin;"); // unknown here, left as written
        assert_eq!(d("&nosuchthing;&"), "&nosuchthing;&");
        assert_eq!(d("&&;&;"), "&&;&;");
        let long = format!("&{};", "a".repeat(10_000));
        assert_eq!(d(&long), long);
    }

    #[test]
    fn tables_are_consistent() {
        assert_eq!(legacy("nbsp"), Some('\u{A0}'));
        assert_eq!(legacy("yuml"), Some('\u{FF}'));
        assert_eq!(legacy("times"), Some('\u{D7}'));
        let all = LATIN1
            .iter()
            .copied()
            .chain(LEGACY_OTHER.iter().map(|(n, _)| *n))
            .chain(WITH_SEMICOLON.iter().map(|(n, _)| *n));
        for name in all {
            assert!(name.len() <= MAX_NAME_LEN, "{name}");
            assert!(name.bytes().all(|b| b.is_ascii_alphanumeric()), "{name}");
        }
        for name in LATIN1.iter().chain(LEGACY_OTHER.iter().map(|(n, _)| n)) {
            assert!(name.len() <= MAX_LEGACY_LEN, "{name}");
        }
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape_attribute_value("https://t.example/abc_-"),
            "https://t.example/abc_-"
        );
        assert_eq!(escape_attribute_value("a&b\"c<'"), "a&amp;b&quot;c<'");
    }

    proptest! {
        #[test]
        fn escape_then_decode_round_trips(s in any::<String>()) {
            prop_assert_eq!(d(&escape_attribute_value(&s)), s);
        }

        #[test]
        fn decoding_never_panics(s in "[&#xX;a-zA-Z0-9=]{0,40}") {
            let _ = d(&s);
        }
    }
}
