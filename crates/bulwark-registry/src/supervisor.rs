//! The one home of background work: periodic jobs (the upload sweep, signing-key reloads,
//! and the scan workers, garbage collection and webhook deliveries to come), each run on a
//! schedule of its own, and those that must run once per cluster claimed through the
//! metadata store, so that with several nodes each runs on one node at a time and a dead
//! node's job is taken over when its lease runs out.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bulwark_metadata::MetadataStore;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Where a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// On every node (work on the node's own state, such as reloading keys into memory).
    EveryNode,
    /// On one node of the cluster at a time, by lease.
    OneNode,
}

/// Runs background jobs until shut down.
pub struct Supervisor {
    store: MetadataStore,
    /// This process, as the holder of leases.
    node: Arc<str>,
    stop: watch::Sender<bool>,
    jobs: JoinSet<()>,
    leased: Vec<&'static str>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("node", &self.node)
            .field("jobs", &self.jobs.len())
            .finish()
    }
}

impl Supervisor {
    pub fn new(store: MetadataStore) -> Self {
        Supervisor {
            store,
            node: uuid::Uuid::new_v4().to_string().into(),
            stop: watch::channel(false).0,
            jobs: JoinSet::new(),
            leased: Vec::new(),
        }
    }

    /// The name this node holds leases under.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Runs `job` every `interval` (the first run one interval from now). A `OneNode` job
    /// holds a lease of three intervals, renewed at each run, so a node that dies is
    /// replaced within three intervals. A failed run is logged and tried again at the next.
    pub fn every<F, Fut, E>(
        &mut self,
        name: &'static str,
        interval: Duration,
        placement: Placement,
        job: F,
    ) where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send,
        E: std::fmt::Display,
    {
        if placement == Placement::OneNode {
            self.leased.push(name);
        }
        let lease_ms = i64::try_from(interval.as_millis().saturating_mul(3)).unwrap_or(i64::MAX);
        let store = self.store.clone();
        let node = self.node.clone();
        let mut stop = self.stop.subscribe();
        self.jobs.spawn(async move {
            let mut ticker =
                tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = stop.changed() => return,
                }
                if placement == Placement::OneNode {
                    match store.claim_job(name, &node, lease_ms).await {
                        Ok(true) => {}
                        Ok(false) => continue,
                        Err(error) => {
                            tracing::warn!(job = name, %error, "claiming a background job failed");
                            continue;
                        }
                    }
                }
                if let Err(error) = job().await {
                    tracing::warn!(job = name, %error, "background job failed; will retry");
                }
            }
        });
    }

    /// Stops every job (a run in progress finishes first) and gives up this node's leases.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        while self.jobs.join_next().await.is_some() {}
        for name in self.leased {
            if let Err(error) = self.store.release_job(name, &self.node).await {
                tracing::warn!(job = name, %error, "releasing a background job's lease failed");
            }
        }
    }
}
