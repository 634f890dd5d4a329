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

/// Concurrent commits share transactions: fewer fsyncs than commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_are_grouped() {
    use std::sync::Arc;

    use mailerd_store::Store;
    use mailerd_store::conformance::message;

    let f = Embedded::new();
    let s = Arc::new(EmbeddedStore::open(f.path("grouped")).expect("open"));
    let base = s.writer_stats();
    let mut tasks = Vec::new();
    for t in 0..20u64 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                s.commit(message(t * 100 + i, &["bob@example.net"], 5000))
                    .await
                    .expect("commit");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let st = s.writer_stats();
    assert_eq!(st.ops - base.ops, 200);
    assert_eq!(st.failed_batches, 0);
    assert!(
        st.batches - base.batches < 200 && st.largest_batch > 1,
        "group commit shares transactions: {st:?}"
    );
}
