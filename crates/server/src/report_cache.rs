//! Rendered HTML reports, kept in memory. A stored report never changes, and rendering one
//! (tables, intervals, six SVG charts) costs about 100 ms, so a report opened again, or by
//! several people of a case, is served from here. Bounded by total size; the oldest entry
//! goes first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// The report's digest, the run and the language: everything the page is made from.
type Key = (String, String, htmlreport::Lang);

/// Rendered reports up to a total size.
pub struct ReportCache {
    max_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    pages: HashMap<Key, Arc<str>>,
    order: VecDeque<Key>,
    bytes: usize,
}

impl ReportCache {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn get(&self, digest: &str, run: &str, lang: htmlreport::Lang) -> Option<Arc<str>> {
        let inner = self.inner.lock().ok()?;
        inner.pages.get(&(digest.to_owned(), run.to_owned(), lang)).cloned()
    }

    pub fn put(&self, digest: &str, run: &str, lang: htmlreport::Lang, html: Arc<str>) {
        if html.len() > self.max_bytes {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else { return };
        let key = (digest.to_owned(), run.to_owned(), lang);
        if inner.pages.contains_key(&key) {
            return;
        }
        while inner.bytes + html.len() > self.max_bytes {
            let Some(old) = inner.order.pop_front() else { break };
            if let Some(p) = inner.pages.remove(&old) {
                inner.bytes -= p.len();
            }
        }
        inner.bytes += html.len();
        inner.order.push_back(key.clone());
        inner.pages.insert(key, html);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use htmlreport::Lang;

    #[test]
    fn pages_are_found_by_digest_run_and_language_and_the_oldest_go_first() {
        let c = ReportCache::new(10);
        c.put("d1", "r1", Lang::En, Arc::from("aaaa"));
        c.put("d1", "r1", Lang::Da, Arc::from("bbbb"));
        assert_eq!(c.get("d1", "r1", Lang::En).as_deref(), Some("aaaa"));
        assert_eq!(c.get("d1", "r1", Lang::Da).as_deref(), Some("bbbb"));
        assert!(c.get("d1", "r2", Lang::En).is_none());
        assert!(c.get("d2", "r1", Lang::En).is_none());
        c.put("d2", "r2", Lang::En, Arc::from("cccc"));
        assert!(c.get("d1", "r1", Lang::En).is_none(), "over 10 bytes: the oldest went");
        assert_eq!(c.get("d1", "r1", Lang::Da).as_deref(), Some("bbbb"));
        assert_eq!(c.get("d2", "r2", Lang::En).as_deref(), Some("cccc"));
        c.put("d3", "r3", Lang::En, Arc::from("x".repeat(11).as_str()));
        assert!(
            c.get("d3", "r3", Lang::En).is_none(),
            "larger than the whole cache: not kept"
        );
        assert_eq!(c.get("d2", "r2", Lang::En).as_deref(), Some("cccc"));
    }
}
