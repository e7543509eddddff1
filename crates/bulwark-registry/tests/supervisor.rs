//! Background jobs that run on one node: while one node holds the job it runs there; when
//! that node shuts down (releasing its lease) another takes the job over.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bulwark_metadata::MetadataStore;
use bulwark_registry::supervisor::{Placement, Supervisor};
use bulwark_test_support::{Backend, TestDatabase};

fn counting(supervisor: &mut Supervisor, runs: &Arc<AtomicUsize>) {
    let runs = runs.clone();
    supervisor.every(
        "count",
        Duration::from_millis(20),
        Placement::OneNode,
        move || {
            let runs = runs.clone();
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok::<(), String>(())
            }
        },
    );
}

async fn reaches(runs: &AtomicUsize, at_least: usize) {
    tokio::time::timeout(Duration::from_secs(30), async {
        while runs.load(Ordering::SeqCst) < at_least {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the job did not run");
}

#[tokio::test]
async fn a_one_node_job_moves_to_another_node_when_its_holder_leaves() {
    let db = TestDatabase::new(Backend::Sqlite).await;
    let store = MetadataStore::connect(db.url(), 4).await.unwrap();
    let (a_runs, b_runs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut a = Supervisor::new(store.clone());
    counting(&mut a, &a_runs);
    reaches(&a_runs, 3).await;
    let mut b = Supervisor::new(store.clone());
    counting(&mut b, &b_runs);
    a.shutdown().await;
    let a_final = a_runs.load(Ordering::SeqCst);
    reaches(&b_runs, 3).await;
    assert_eq!(
        a_runs.load(Ordering::SeqCst),
        a_final,
        "a stopped at its shutdown"
    );
    b.shutdown().await;
}
