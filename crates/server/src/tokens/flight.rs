//! In-process single flight: concurrent callers for one key share one spawned task.
//!
//! The work runs on its own task, so it finishes (and persists a rotated refresh token) even
//! when every caller has gone away; the task is tracked so shutdown can wait for it.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use parking_lot::Mutex;
use tokio_util::task::TaskTracker;

type Flight<V> = Shared<BoxFuture<'static, V>>;

/// Shares one execution of a job per key among concurrent callers.
#[derive(Debug)]
pub struct SingleFlight<K, V: Clone> {
    inflight: Arc<Mutex<HashMap<K, Flight<V>>>>,
}

impl<K, V: Clone> Default for SingleFlight<K, V> {
    fn default() -> Self {
        Self {
            inflight: Arc::default(),
        }
    }
}

impl<K, V> SingleFlight<K, V>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Runs `job` on a task of `tasks` unless a job for `key` is already running, and returns
    /// that job's result. `on_panic` is the value given if the job's task dies.
    pub async fn run<F>(&self, key: K, job: F, on_panic: V, tasks: &TaskTracker) -> V
    where
        F: Future<Output = V> + Send + 'static,
    {
        let flight = {
            let mut inflight = self.inflight.lock();
            match inflight.get(&key) {
                Some(flight) => flight.clone(),
                None => {
                    let flight = self.start(key.clone(), job, on_panic, tasks);
                    inflight.insert(key, flight.clone());
                    flight
                }
            }
        };
        flight.await
    }

    fn start<F>(&self, key: K, job: F, on_panic: V, tasks: &TaskTracker) -> Flight<V>
    where
        F: Future<Output = V> + Send + 'static,
    {
        let landing = Landing {
            inflight: Arc::clone(&self.inflight),
            key: Some(key),
        };
        let task = tasks.spawn(async move {
            // Dropped when the job ends, returns or panics: the key is never left behind.
            let _landing = landing;
            job.await
        });
        task.map(move |joined| joined.unwrap_or(on_panic))
            .boxed()
            .shared()
    }
}

/// Removes a flight's key from the map when dropped.
struct Landing<K: Eq + Hash, V: Clone> {
    inflight: Arc<Mutex<HashMap<K, Flight<V>>>>,
    key: Option<K>,
}

impl<K: Eq + Hash, V: Clone> Drop for Landing<K, V> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.inflight.lock().remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::Notify;

    #[tokio::test]
    async fn concurrent_callers_share_one_execution() {
        let flights = Arc::new(SingleFlight::<u32, usize>::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Notify::new());
        let mut callers = Vec::new();
        for _ in 0..50 {
            let (flights, runs, gate) = (flights.clone(), runs.clone(), gate.clone());
            callers.push(tokio::spawn(async move {
                let job = async move {
                    gate.notified().await;
                    runs.fetch_add(1, Ordering::SeqCst) + 1
                };
                flights.run(7, job, 0, &TaskTracker::new()).await
            }));
        }
        while flights.inflight.lock().is_empty() {
            tokio::task::yield_now().await;
        }
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        for caller in callers {
            assert_eq!(caller.await.unwrap_or_default(), 1);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(flights.inflight.lock().is_empty());
    }

    #[tokio::test]
    async fn a_job_that_panics_answers_the_fallback_and_the_next_call_runs_again() {
        let flights = SingleFlight::<u32, usize>::default();
        fn explode() -> usize {
            panic!("the refresh task blew up")
        }
        let panicking = async { explode() };
        let tasks = TaskTracker::new();
        assert_eq!(flights.run(7, panicking, 0, &tasks).await, 0);
        assert!(
            flights.inflight.lock().is_empty(),
            "the key was left behind"
        );
        assert_eq!(flights.run(7, async { 42 }, 0, &tasks).await, 42);
    }
}
