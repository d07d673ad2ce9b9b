//! Cached directory listings, fetched once per TTL per directory however
//! many threads ask at the same time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::dir::DirEntry;

/// All entries of one directory, as listed at `fetched`.
pub struct Listing {
    pub entries: Vec<DirEntry>,
    pub fetched: Instant,
    by_name: HashMap<String, usize>,
}

impl Listing {
    pub fn new(entries: Vec<DirEntry>) -> Listing {
        let by_name = entries
            .iter()
            .enumerate()
            .map(|(index, entry)| (entry.name.clone(), index))
            .collect();
        Listing {
            entries,
            fetched: Instant::now(),
            by_name,
        }
    }

    pub fn find(&self, name: &str) -> Option<&DirEntry> {
        self.by_name.get(name).map(|&index| &self.entries[index])
    }
}

/// One slot per directory inode. The slot's own lock is held while its
/// listing loads, so concurrent readers of one directory wait for a single
/// fetch; the outer lock is held only to find the slot.
type Slot = Arc<Mutex<Option<Arc<Listing>>>>;

pub struct ListingCache {
    slots: Mutex<HashMap<u64, Slot>>,
    ttl: Duration,
}

impl ListingCache {
    pub fn new(ttl: Duration) -> ListingCache {
        ListingCache {
            slots: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    fn slot(&self, dir: u64) -> Slot {
        self.slots.lock().entry(dir).or_default().clone()
    }

    /// The listing of `dir` if one younger than the TTL exists. Waits while
    /// another thread is loading it.
    pub fn fresh(&self, dir: u64) -> Option<Arc<Listing>> {
        let slot = self.slot(dir);
        let guard = slot.lock();
        guard
            .as_ref()
            .filter(|listing| listing.fetched.elapsed() < self.ttl)
            .cloned()
    }

    /// The listing of `dir`, loaded with `load` unless a fresh one exists.
    pub fn get_or_load<E>(
        &self,
        dir: u64,
        load: impl FnOnce() -> Result<Listing, E>,
    ) -> Result<Arc<Listing>, E> {
        let slot = self.slot(dir);
        let mut guard = slot.lock();
        if let Some(listing) = guard.as_ref() {
            if listing.fetched.elapsed() < self.ttl {
                return Ok(listing.clone());
            }
        }
        let listing = Arc::new(load()?);
        *guard = Some(listing.clone());
        Ok(listing)
    }

    /// Drops the cached listing of `dir`, after a change made through the mount.
    pub fn invalidate(&self, dir: u64) {
        self.slots.lock().remove(&dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::attr::Kind;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn entry(name: &str) -> DirEntry {
        DirEntry {
            name: name.to_string(),
            kind: Kind::Directory,
            file: None,
            mtime: None,
        }
    }

    #[test]
    fn concurrent_loads_fetch_once() {
        let cache = Arc::new(ListingCache::new(Duration::from_secs(60)));
        let loads = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let cache = cache.clone();
                let loads = loads.clone();
                std::thread::spawn(move || {
                    cache
                        .get_or_load::<()>(7, || {
                            loads.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(50));
                            Ok(Listing::new(vec![entry("a")]))
                        })
                        .unwrap()
                        .entries
                        .len()
                })
            })
            .collect();
        for thread in threads {
            assert_eq!(thread.join().unwrap(), 1);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn expired_listing_not_fresh() {
        let cache = ListingCache::new(Duration::ZERO);
        cache
            .get_or_load::<()>(1, || Ok(Listing::new(vec![entry("a")])))
            .unwrap();
        assert!(cache.fresh(1).is_none());
    }

    #[test]
    fn find_by_name() {
        let listing = Listing::new(vec![entry("a"), entry("b")]);
        assert_eq!(listing.find("b").unwrap().name, "b");
        assert!(listing.find("c").is_none());
    }
}
