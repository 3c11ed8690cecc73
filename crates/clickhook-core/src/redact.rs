//! Masks for values that may be named in a log line but must not be spelled out there.
//!
//! Logs at info and above never carry a secret (signing keys, server tokens, webhook
//! passwords, header values) or a full recipient address (ARCHITECTURE.md, invariant 8).
//! When a line needs to say *which* recipient or *which* receiver, it names them through
//! these masks: enough for an operator to recognise them, too little to be personal data or
//! a credential.

use std::fmt;

/// A recipient address, masked: the first character of the local part, `***`, and the
/// domain (`john@example.com` → `j***@example.com`). Anything without an `@` is `***`.
#[derive(Clone, Copy)]
pub struct Recipient<'a>(pub &'a str);

impl fmt::Display for Recipient<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.trim();
        match s.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
                let first = local.chars().next().unwrap_or('*');
                write!(f, "{first}***@{domain}")
            }
            _ => f.write_str("***"),
        }
    }
}

impl fmt::Debug for Recipient<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// A URL, masked down to its origin: scheme, host and port. User info (`user:password@`),
/// the path (which may carry a token, as many hook URLs do), the query and the fragment
/// are dropped; a non-empty path shows as `/…`. Text that is not a URL is `***`.
#[derive(Clone, Copy)]
pub struct Url<'a>(pub &'a str);

impl fmt::Display for Url<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.trim();
        let Some((scheme, rest)) = s.split_once("://") else {
            return f.write_str("***");
        };
        if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) {
            return f.write_str("***");
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        // The host starts after the last '@' of the authority (a password may hold '@').
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if host.is_empty() {
            return f.write_str("***");
        }
        write!(f, "{scheme}://{host}")?;
        if tail.len() > 1 || tail.starts_with(['?', '#']) {
            f.write_str("/…")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Url<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn recipients_keep_one_letter_and_the_domain() {
        assert_eq!(Recipient("john@example.com").to_string(), "j***@example.com");
        assert_eq!(Recipient(" Žana.x+tag@mail.example.org ").to_string(), "Ž***@mail.example.org");
        assert_eq!(Recipient("\"a@b\"@example.com").to_string(), "\"***@example.com");
        assert_eq!(Recipient("no-at-sign").to_string(), "***");
        assert_eq!(Recipient("@example.com").to_string(), "***");
        assert_eq!(Recipient("john@").to_string(), "***");
        assert_eq!(format!("{:?}", Recipient("john@example.com")), "\"j***@example.com\"");
    }

    #[test]
    fn urls_keep_only_their_origin() {
        assert_eq!(Url("https://user:pa@ss@hooks.example.com:8443/services/T0/B0/secret?x=1").to_string(), "https://hooks.example.com:8443/…");
        assert_eq!(Url("http://127.0.0.1:9000").to_string(), "http://127.0.0.1:9000");
        assert_eq!(Url("http://127.0.0.1:9000/").to_string(), "http://127.0.0.1:9000");
        assert_eq!(Url("http://[::1]:9000?token=abc").to_string(), "http://[::1]:9000/…");
        assert_eq!(Url("http://user@host#frag").to_string(), "http://host/…");
        assert_eq!(Url("not a url").to_string(), "***");
        assert_eq!(Url("://host").to_string(), "***");
        assert_eq!(Url("ht tp://host").to_string(), "***");
        assert_eq!(Url("http://user:secret@/path").to_string(), "***");
    }

    proptest! {
        /// Whatever the user info, path and query hold, none of it is shown.
        #[test]
        fn no_credential_or_path_survives(user in "[a-z0-9]{6,12}", pass in "[a-zA-Z0-9@:]{6,20}", path in "[a-zA-Z0-9/]{6,20}", query in "[a-z0-9=&]{6,20}") {
            let url = format!("https://{user}:{pass}@hooks.example.com/{path}?{query}");
            let shown = Url(&url).to_string();
            prop_assert_eq!(shown.as_str(), "https://hooks.example.com/…");
        }

        #[test]
        fn no_local_part_survives(local in "[a-z0-9.]{2,30}", domain in "[a-z]{1,10}\\.[a-z]{2,5}") {
            let shown = Recipient(&format!("{local}@{domain}")).to_string();
            prop_assert_eq!(shown, format!("{}***@{domain}", &local[..1]));
        }
    }
}
