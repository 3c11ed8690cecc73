//! The user agent: missing, HTTP libraries, headless browsers, previewers, scanners, crawlers.
//!
//! Matching is case-insensitive on the first [`UA_SCAN_LIMIT`] bytes of the user agent, which
//! is lowered once; every rule is then a substring or product-token test, so the work per user
//! agent is bounded by (number of markers) x (limit). The marker lists are from the user agents
//! these tools document or send; see the comments at each list.

use crate::Reason;

/// How many bytes of a user agent are looked at. Callers cap user agents at a few KB; no
/// marker below needs more than the start of one.
pub const UA_SCAN_LIMIT: usize = 2048;

/// Headless and automated browsers. HeadlessChrome is what Chrome sends in headless mode;
/// the others name themselves in their default user agents.
const HEADLESS: &[&str] = &[
    "headless", // HeadlessChrome/..., Headless Firefox builds
    "phantomjs",
    "puppeteer",
    "playwright",
    "selenium",
    "webdriver",
    "slimerjs",
    "htmlunit",
    "cypress",
];

/// Link previewers of chat, social and mail apps.
const LINK_PREVIEW: &[&str] = &[
    "slackbot-linkexpanding",
    "slackbot",
    "slack-imgproxy",
    "facebookexternalhit",
    "facebookcatalog",
    "twitterbot",
    "linkedinbot",
    "whatsapp/", // the previewer; WhatsApp opens links in the system browser
    "telegrambot",
    "discordbot",
    "skypeuripreview",
    "microsoftpreview",
    "microsoft office existence discovery",
    "redditbot",
    "embedly",
    "iframely",
    "pinterestbot",
    "vkshare",
    "bitlybot",
    "tumblr/",
    "mastodon/",
    "cardyb", // Bluesky's card fetcher
    "kakaotalk-scrap",
    "viber/",
    "googleimageproxy",
    "yahoomailproxy",
    "snap url preview",
    "zoom url preview",
];

/// Security services that name themselves in the user agent (most of them use a browser user
/// agent and are caught by their network instead).
const SECURITY_SCANNER: &[&str] = &[
    "google-safety",
    "bingpreview",
    "barracuda",
    "mimecast",
    "proofpoint",
    "urldefense",
    "ironport",
    "messagelabs",
    "symantec",
    "trendmicro",
    "trend micro",
    "forcepoint",
    "websense",
    "fortiguard",
    "paloalto",
    "cortex xpanse",
    "virustotal",
    "urlscan",
    "safebrowsing",
    "netcraft",
    "appriver",
    "hornetsecurity",
    "spamtitan",
    "cyren",
    "censysinspect",
];

/// HTTP libraries and command-line clients, matched as product names (`name/version` or the
/// bare name) in the user agent's tokens.
const HTTP_LIBRARY: &[&str] = &[
    "curl",
    "libcurl",
    "wget",
    "python",
    "python-requests",
    "python-urllib",
    "python-urllib3",
    "python-httpx",
    "aiohttp",
    "scrapy",
    "go-http-client",
    "go-resty",
    "java",
    "okhttp",
    "apache-httpclient",
    "apache-httpasyncclient",
    "jakarta",
    "commons-httpclient",
    "axios",
    "node-fetch",
    "node",
    "undici",
    "got",
    "deno",
    "bun",
    "libwww-perl",
    "lwp-trivial",
    "postmanruntime",
    "insomnia",
    "httpie",
    "guzzlehttp",
    "php",
    "ruby",
    "faraday",
    "rest-client",
    "http.rb",
    "restsharp",
    "windowspowershell",
    "powershell",
    "reqwest",
    "hyper",
    "dart",
    "dalvik", // Android's default HttpURLConnection agent: an app fetching, not a person
    "cfnetwork-fetch",
    "winhttp",
    "httpclient",
];

/// Crawlers that do not always say "bot" where the generic rule looks.
const CRAWLER: &[&str] = &[
    "googlebot",
    "google-inspectiontool",
    "adsbot-google",
    "bingbot",
    "yandex",
    "baiduspider",
    "duckduckbot",
    "applebot",
    "ahrefsbot",
    "semrushbot",
    "mj12bot",
    "dotbot",
    "petalbot",
    "bytespider",
    "gptbot",
    "chatgpt-user",
    "claudebot",
    "ccbot",
    "amazonbot",
    "meta-externalagent",
    "archive.org_bot",
    "ia_archiver",
    "crawler",
    "spider",
    "+http", // "(compatible; Foo/1.0; +https://foo.example/bot)"
];

/// Device names that end in "bot" (CUBOT phones) and must not trip the generic rule.
const NOT_A_BOT: &[&str] = &["cubot"];

/// The one user-agent reason for a hit, if any: missing, headless browser, link previewer,
/// security scanner, HTTP library, crawler (in that order of precedence).
/// `woothee_category` is woothee's category for the same user agent (`"crawler"`, `"pc"`,
/// `"smartphone"`, ...), when the caller has one.
pub fn user_agent_reason(
    user_agent: Option<&str>,
    woothee_category: Option<&str>,
) -> Option<Reason> {
    let ua = user_agent.map(str::trim).unwrap_or("");
    if ua.is_empty() || ua == "-" {
        return Some(Reason::MissingUserAgent);
    }
    let lower = prefix_at_char_boundary(ua, UA_SCAN_LIMIT).to_ascii_lowercase();
    let has = |list: &[&str]| list.iter().any(|m| lower.contains(m));

    if has(HEADLESS) {
        return Some(Reason::HeadlessBrowser);
    }
    if has(LINK_PREVIEW) {
        return Some(Reason::LinkPreview);
    }
    if has(SECURITY_SCANNER) {
        return Some(Reason::SecurityScanner);
    }
    if is_http_library(&lower) {
        return Some(Reason::HttpLibrary);
    }
    if woothee_category.is_some_and(|c| c.trim().eq_ignore_ascii_case("crawler"))
        || has(CRAWLER)
        || generic_bot(&lower)
    {
        return Some(Reason::Crawler);
    }
    None
}

/// Engine tokens that browsers (and in-app web views) always send.
const BROWSER_ENGINES: &[&str] = &[
    "applewebkit",
    "gecko",
    "trident",
    "presto",
    "khtml",
    "edgehtml",
];

/// A library agent is one whose *first* product is a library, or one that names no browser
/// engine and has a library among its products. A browser user agent is never a library
/// even if one of its comment tokens happens to be a library name.
fn is_http_library(lower: &str) -> bool {
    let mut products = lower
        .split(|c: char| c.is_ascii_whitespace() || matches!(c, '(' | ')' | ';' | ','))
        .filter(|t| !t.is_empty())
        .map(|t| t.split('/').next().unwrap_or(t));
    let Some(first) = products.next() else {
        return false;
    };
    if HTTP_LIBRARY.contains(&first) {
        return true;
    }
    // A real browser names its engine; "Mozilla/5.0" with no engine after it is a tool
    // borrowing the prefix (PowerShell's Invoke-WebRequest, for one).
    if BROWSER_ENGINES.iter().any(|e| lower.contains(e)) {
        return false;
    }
    products.any(|p| HTTP_LIBRARY.contains(&p))
}

/// `Foobot/1.0`, `(compatible; Foobot;`: a product or comment token ending in "bot".
fn generic_bot(lower: &str) -> bool {
    lower
        .split(|c: char| c.is_ascii_whitespace() || matches!(c, '(' | ')' | ';' | ','))
        .map(|t| t.split('/').next().unwrap_or(t))
        .any(|t| t.len() > 3 && t.ends_with("bot") && !NOT_A_BOT.iter().any(|n| t.ends_with(n)))
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
pub(crate) fn prefix_at_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
    const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
    const OUTLOOK: &str = "Mozilla/4.0 (compatible; ms-office; MSOffice 16)";
    const OUTLOOK_DESKTOP: &str =
        "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17531; Pro)";
    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0";
    const ANDROID_CHROME: &str = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36";
    const CUBOT: &str = "Mozilla/5.0 (Linux; Android 11; CUBOT; KING KONG 5 Pro) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36";
    const GMAIL_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 GSA/310.0 GmailApp";

    #[test]
    fn browsers_and_mail_apps_are_not_flagged() {
        for ua in [
            CHROME_WIN,
            SAFARI_IPHONE,
            OUTLOOK,
            OUTLOOK_DESKTOP,
            FIREFOX,
            ANDROID_CHROME,
            CUBOT,
            GMAIL_IOS,
        ] {
            assert_eq!(user_agent_reason(Some(ua), Some("pc")), None, "{ua}");
        }
    }

    #[test]
    fn missing() {
        assert_eq!(
            user_agent_reason(None, None),
            Some(Reason::MissingUserAgent)
        );
        assert_eq!(
            user_agent_reason(Some(""), None),
            Some(Reason::MissingUserAgent)
        );
        assert_eq!(
            user_agent_reason(Some("  "), None),
            Some(Reason::MissingUserAgent)
        );
        assert_eq!(
            user_agent_reason(Some("-"), None),
            Some(Reason::MissingUserAgent)
        );
    }

    #[test]
    fn http_libraries() {
        for ua in [
            "curl/8.4.0",
            "Wget/1.21.4",
            "python-requests/2.31.0",
            "Python-urllib/3.11",
            "python-urllib3/2.0.7",
            "Python/3.12 aiohttp/3.9.1",
            "Go-http-client/1.1",
            "Go-http-client/2.0",
            "Java/17.0.2",
            "okhttp/4.12.0",
            "axios/1.6.2",
            "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
            "libwww-perl/6.72",
            "Apache-HttpClient/4.5.14 (Java/17.0.8)",
            "PostmanRuntime/7.36.0",
            "HTTPie/3.2.2",
            "GuzzleHttp/7",
            "Dalvik/2.1.0 (Linux; U; Android 13; Pixel 7 Build/TQ3A.230805.001)",
            "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.22621.2506",
        ] {
            assert!(
                matches!(
                    user_agent_reason(Some(ua), None),
                    Some(Reason::HttpLibrary | Reason::Crawler)
                ),
                "{ua}: {:?}",
                user_agent_reason(Some(ua), None)
            );
        }
        assert_eq!(
            user_agent_reason(Some("curl/8.4.0"), None),
            Some(Reason::HttpLibrary)
        );
        assert_eq!(
            user_agent_reason(Some("CURL/7.1"), None),
            Some(Reason::HttpLibrary)
        );
    }

    #[test]
    fn powershell_with_mozilla_prefix_is_still_a_library() {
        // Invoke-WebRequest starts with "Mozilla/5.0": the library token is not the first one.
        let ua =
            "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.22621.2506";
        // It names no browser engine, so its PowerShell token counts.
        assert_eq!(user_agent_reason(Some(ua), None), Some(Reason::HttpLibrary));
    }

    #[test]
    fn headless() {
        for ua in [
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.6367.60 Safari/537.36",
            "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
            "Mozilla/5.0 Puppeteer",
            "Mozilla/5.0 (Macintosh) Playwright/1.43",
        ] {
            assert_eq!(
                user_agent_reason(Some(ua), None),
                Some(Reason::HeadlessBrowser),
                "{ua}"
            );
        }
    }

    #[test]
    fn previews() {
        for ua in [
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "Twitterbot/1.0",
            "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
            "WhatsApp/2.23.20.0 A",
            "TelegramBot (like TwitterBot)",
            "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
            "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com",
            "Mozilla/5.0 (compatible; redditbot/1.0; +http://www.reddit.com/feedback)",
        ] {
            assert_eq!(
                user_agent_reason(Some(ua), None),
                Some(Reason::LinkPreview),
                "{ua}"
            );
        }
    }

    #[test]
    fn security_scanners() {
        for ua in [
            "Google-Safety",
            "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/534+ (KHTML, like Gecko) BingPreview/1.0b",
            "Barracuda Sentinel (EE)",
            "Mozilla/5.0 (compatible; Mimecast URL Protect)",
            "Proofpoint URL Defense",
        ] {
            assert_eq!(
                user_agent_reason(Some(ua), None),
                Some(Reason::SecurityScanner),
                "{ua}"
            );
        }
    }

    #[test]
    fn crawlers() {
        for ua in [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
            "SomeNewBot/0.1",
            "Mozilla/5.0 (compatible; ExampleCrawler)",
        ] {
            assert_eq!(
                user_agent_reason(Some(ua), None),
                Some(Reason::Crawler),
                "{ua}"
            );
        }
        // woothee's category alone is enough.
        assert_eq!(
            user_agent_reason(Some("Mozilla/5.0 odd"), Some("crawler")),
            Some(Reason::Crawler)
        );
    }

    #[test]
    fn prefix_respects_char_boundaries() {
        let s = "ééé"; // 2 bytes each
        assert_eq!(prefix_at_char_boundary(s, 3), "é");
        assert_eq!(prefix_at_char_boundary(s, 4), "éé");
        assert_eq!(prefix_at_char_boundary(s, 100), s);
    }

    proptest! {
        #[test]
        fn never_panics_and_marker_past_the_limit_is_ignored(
            junk in "[a-zA-Z0-9 ;()/.,é\u{1F600}-]{0,300}",
            pad in 0usize..3000,
        ) {
            let _ = user_agent_reason(Some(&junk), None);
            // A marker hidden past the scan limit is not seen (bounded work), one inside is.
            let browser = format!("{CHROME_WIN}{}", " ".repeat(pad));
            let with_marker = format!("{browser} HeadlessChrome/1");
            let seen = user_agent_reason(Some(&with_marker), None) == Some(Reason::HeadlessBrowser);
            // "headless" starts one byte after the padding and is 8 bytes long.
            prop_assert_eq!(seen, browser.len() + 1 + 8 <= UA_SCAN_LIMIT);
        }

        #[test]
        fn case_does_not_matter(upper in proptest::bool::ANY) {
            let ua = if upper { "PYTHON-REQUESTS/2.31.0".to_string() } else { "python-requests/2.31.0".to_string() };
            prop_assert_eq!(user_agent_reason(Some(&ua), None), Some(Reason::HttpLibrary));
        }
    }
}
