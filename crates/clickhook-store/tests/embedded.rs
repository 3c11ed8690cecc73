//! The conformance suite on the embedded (SQLite) backend.

use std::sync::Arc;

use clickhook_store::{Store, embedded::EmbeddedStore};

fn fresh() -> Arc<dyn Store> {
    // Leaked on purpose: the directory must outlive the store's writer thread.
    let dir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
    Arc::new(EmbeddedStore::open(dir.path()).unwrap())
}

clickhook_store::conformance_suite!(fresh());
