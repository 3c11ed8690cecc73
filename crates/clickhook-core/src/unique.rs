//! Uniqueness marks.
//!
//! A click is unique when it is the first of this recipient on this link of this message
//! within the retention window. The HTML and Text copies of a link share one mark: the
//! location is deliberately not part of the key. The key is a hash so that marks have a
//! fixed size whatever the URL length, and so that no recipient address sits in a key.

use sha2::{Digest, Sha256};

/// The uniqueness key of (message, recipient, original link): 32 hex characters.
pub fn mark_key(message_id: &str, recipient: &str, original_link: &str) -> String {
    let mut h = Sha256::new();
    for part in [message_id, recipient, original_link] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    let digest = h.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The mark a click taken for a scanner claims instead of [`mark_key`]: the same triple under
/// another key, so a scanner's click never uses up the human's unique click, and a scanner
/// that opens a link twice still makes one scanner event.
pub fn scanner_mark_key(message_id: &str, recipient: &str, original_link: &str) -> String {
    format!("scanner:{}", mark_key(message_id, recipient, original_link))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_marks_never_collide_with_human_marks() {
        let human = mark_key("m1", "john@example.com", "https://example.com");
        let scanner = scanner_mark_key("m1", "john@example.com", "https://example.com");
        assert_ne!(human, scanner);
        assert!(scanner.ends_with(&human));
    }

    #[test]
    fn location_and_case_of_parts() {
        let a = mark_key("m1", "john@example.com", "https://example.com");
        assert_eq!(a, mark_key("m1", "john@example.com", "https://example.com"));
        assert_eq!(a.len(), 32);
        assert_ne!(a, mark_key("m1", "jane@example.com", "https://example.com"));
        assert_ne!(a, mark_key("m1", "john@example.com", "https://example.org"));
        assert_ne!(a, mark_key("m2", "john@example.com", "https://example.com"));
        // length-prefixing: shifting text between parts changes the key
        assert_ne!(mark_key("ab", "c", "d"), mark_key("a", "bc", "d"));
    }
}
