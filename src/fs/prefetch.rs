//! Ranges fetched ahead of readers: a small pool of worker threads shared by
//! every open file, the parts they fill, and the byte budgets that bound how
//! much prefetched data the mount holds.
//!
//! A reader reserves a part's bytes from its file's budget and from the
//! global budget before it queues the part, and the reservation lives as long
//! as the part: queued, downloading or buffered. When a reservation fails,
//! the part is not queued, and the reader tries again at its next read. So
//! prefetch waits for memory instead of growing past either cap.
//!
//! Lock order: a reader's state lock, then a part's lock or the queue lock,
//! then a budget's lock. Workers take one lock at a time.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use log::{debug, error};
use parking_lot::{Condvar, Mutex};

use crate::swift::SwiftError;

use super::source::RangeSource;

/// A byte budget shared by the holders of its `Reservation`s.
pub struct MemoryBudget {
    limit: u64,
    state: Mutex<BudgetState>,
}

#[derive(Default)]
struct BudgetState {
    used: u64,
    /// Highest `used` so far, for tests and diagnostics.
    peak: u64,
}

impl MemoryBudget {
    pub fn new(limit: u64) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            limit,
            state: Mutex::new(BudgetState::default()),
        })
    }

    /// Reserves `bytes`, or returns `None` when that would pass the limit.
    pub fn try_reserve(self: &Arc<Self>, bytes: u64) -> Option<Reservation> {
        let mut state = self.state.lock();
        if state.used + bytes > self.limit {
            return None;
        }
        state.used += bytes;
        state.peak = state.peak.max(state.used);
        Some(Reservation {
            budget: self.clone(),
            bytes,
        })
    }

    /// Bytes reserved now.
    pub fn used(&self) -> u64 {
        self.state.lock().used
    }

    /// Most bytes ever reserved at once.
    pub fn peak(&self) -> u64 {
        self.state.lock().peak
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }
}

/// Bytes taken from a `MemoryBudget`, given back when dropped.
pub struct Reservation {
    budget: Arc<MemoryBudget>,
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.state.lock().used -= self.bytes;
    }
}

/// The stage of a part's download.
enum PartState {
    /// In the worker queue; cancelling it now skips the download.
    Queued,
    /// A worker, or the reading thread itself, is downloading it.
    Fetching,
    /// The bytes from `start`; fewer than `end - start` when the object ends
    /// before `end`.
    Ready(Bytes),
    Failed(Arc<SwiftError>),
    /// Dropped from its reader before a worker started it: a reader still
    /// waiting for it must fetch the range itself.
    Cancelled,
}

/// The result of waiting for a part.
pub enum PartOutcome {
    Ready(Bytes),
    Failed(Arc<SwiftError>),
    Cancelled,
}

/// A range `start..end` of an object that one `GET` fetches.
pub struct Part {
    pub start: u64,
    pub end: u64,
    state: Mutex<PartState>,
    done: Condvar,
    /// Budget held while the part is queued, downloading or buffered.
    /// Empty for parts a reading thread fetches itself, which the number of
    /// kernel request threads bounds instead.
    reservations: Mutex<Vec<Reservation>>,
}

impl Part {
    /// Creates a part for the worker queue that holds `reservations` until
    /// it is dropped, or cancelled while still queued.
    pub fn queued(start: u64, end: u64, reservations: Vec<Reservation>) -> Arc<Part> {
        Arc::new(Part {
            start,
            end,
            state: Mutex::new(PartState::Queued),
            done: Condvar::new(),
            reservations: Mutex::new(reservations),
        })
    }

    /// Creates a part that the calling thread fetches at once and then
    /// passes to `complete`.
    pub fn fetching(start: u64, end: u64) -> Arc<Part> {
        Arc::new(Part {
            start,
            end,
            state: Mutex::new(PartState::Fetching),
            done: Condvar::new(),
            reservations: Mutex::new(Vec::new()),
        })
    }

    /// Stores the result of the download and wakes every waiting reader.
    pub fn complete(&self, result: Result<Bytes, SwiftError>) {
        let mut state = self.state.lock();
        *state = match result {
            Ok(data) => PartState::Ready(data),
            Err(error) => PartState::Failed(Arc::new(error)),
        };
        self.done.notify_all();
    }

    /// Skips the download if no worker has started it, and gives its budget
    /// back. A download in progress finishes, and its bytes are dropped with
    /// the last reference to the part.
    pub fn cancel(&self) {
        let mut state = self.state.lock();
        if matches!(*state, PartState::Queued) {
            *state = PartState::Cancelled;
            self.reservations.lock().clear();
            self.done.notify_all();
        }
    }

    /// Blocks until the part is fetched, failed or cancelled.
    pub fn wait(&self) -> PartOutcome {
        let mut state = self.state.lock();
        loop {
            match &*state {
                PartState::Queued | PartState::Fetching => self.done.wait(&mut state),
                PartState::Ready(data) => return PartOutcome::Ready(data.clone()),
                PartState::Failed(error) => return PartOutcome::Failed(error.clone()),
                PartState::Cancelled => return PartOutcome::Cancelled,
            }
        }
    }

    /// Moves a queued part to `Fetching`; `false` if it was cancelled.
    fn start_fetching(&self) -> bool {
        let mut state = self.state.lock();
        match *state {
            PartState::Queued => {
                *state = PartState::Fetching;
                true
            }
            _ => false,
        }
    }
}

/// One download for a worker.
struct Job {
    source: Arc<dyn RangeSource>,
    part: Arc<Part>,
}

struct Queue {
    jobs: VecDeque<Job>,
    stopping: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    available: Condvar,
}

/// The worker threads that download queued parts, in queue order, and the
/// global budget that every reader's prefetch draws on.
pub struct Prefetcher {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    budget: Arc<MemoryBudget>,
}

impl Prefetcher {
    /// Starts `threads` workers (none disables prefetch) with a global
    /// budget of `total_max` bytes.
    pub fn new(threads: usize, total_max: u64) -> Prefetcher {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                stopping: false,
            }),
            available: Condvar::new(),
        });
        let mut workers = Vec::with_capacity(threads);
        for index in 0..threads {
            let shared = shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("prefetch-{index}"))
                .spawn(move || run_worker(&shared));
            match spawned {
                Ok(handle) => workers.push(handle),
                // Fewer workers only slow prefetch down, so the mount goes on.
                Err(err) => error!("cannot start prefetch thread {index}: {err}"),
            }
        }
        Prefetcher {
            shared,
            workers,
            budget: MemoryBudget::new(total_max),
        }
    }

    /// `true` when at least one worker runs, so queued parts get fetched.
    pub fn enabled(&self) -> bool {
        !self.workers.is_empty()
    }

    pub fn budget(&self) -> &Arc<MemoryBudget> {
        &self.budget
    }

    /// Queues `part` for the next free worker.
    pub fn submit(&self, source: Arc<dyn RangeSource>, part: Arc<Part>) {
        let mut queue = self.shared.queue.lock();
        if queue.stopping {
            part.cancel();
            return;
        }
        queue.jobs.push_back(Job { source, part });
        self.shared.available.notify_one();
    }
}

impl Drop for Prefetcher {
    /// Cancels what is still queued and waits for downloads in progress.
    fn drop(&mut self) {
        let jobs = {
            let mut queue = self.shared.queue.lock();
            queue.stopping = true;
            std::mem::take(&mut queue.jobs)
        };
        for job in jobs {
            job.part.cancel();
        }
        self.shared.available.notify_all();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

fn run_worker(shared: &Shared) {
    loop {
        let job = {
            let mut queue = shared.queue.lock();
            loop {
                if queue.stopping {
                    return;
                }
                if let Some(job) = queue.jobs.pop_front() {
                    break job;
                }
                shared.available.wait(&mut queue);
            }
        };
        if !job.part.start_fetching() {
            continue;
        }
        let result = job.source.fetch(job.part.start, job.part.end);
        if let Err(error) = &result {
            debug!(
                "prefetch of {} bytes {}..{} failed: {error}",
                job.source.display(),
                job.part.start,
                job.part.end
            );
        }
        job.part.complete(result);
    }
}
