//! The store conformance suite, run against the embedded backend.

use std::path::PathBuf;

use mailerd_store::StoreError;
use mailerd_store::conformance::Factory;
use mailerd_store_embedded::EmbeddedStore;

/// Each factory owns a temporary directory; store `name` is the file `name.redb` in it.
struct Embedded {
    dir: tempfile::TempDir,
}

impl Embedded {
    fn new() -> Embedded {
        Embedded {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.redb"))
    }
}

impl Factory for Embedded {
    type Store = EmbeddedStore;

    async fn open(&self, name: &str) -> EmbeddedStore {
        let path = self.path(name);
        // A store dropped a moment ago may still be closing in a blocking read task.
        for _ in 0..100 {
            match EmbeddedStore::open(&path) {
                Ok(s) => return s,
                Err(StoreError::InUse(_)) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await
                }
                Err(e) => panic!("opening {}: {e}", path.display()),
            }
        }
        panic!("{} stayed in use", path.display());
    }
}

mailerd_store::all_tests!(Embedded::new());
