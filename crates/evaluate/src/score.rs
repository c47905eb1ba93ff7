//! The scoring stage: every batch of the source (generated on the fly, or read from a file)
//! goes to a worker, its probabilities and decisions are added, and each thread accumulates its
//! own statistics; a watcher kills the workers at once on cancel or past the deadline.

use crate::prepare::Prepared;
use crate::source::{Source, batch_digest};
use crate::{Clock, EvaluateError, Progress, Request, hex, with_predictions};
use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Float32Type;
use fairness::{Accumulator, Columns, MissingGroups, add_record_batch};
use inference::Pool;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

/// How often the watcher looks at the cancel flag and the clock.
const WATCH_EVERY: Duration = Duration::from_millis(50);

/// Watches the cancel flag and the deadline until `done`: on either, kills the pool's workers at
/// once, even mid-batch, instead of waiting for the batch (up to its own deadline) to end, and
/// returns the error that explains whatever the scoring threads returned.
pub(crate) fn watch(pool: &Pool, clock: &Clock, done: &AtomicBool) -> Option<EvaluateError> {
    while !done.load(Ordering::SeqCst) {
        if let Err(e) = clock.check() {
            pool.abort();
            return Some(e);
        }
        std::thread::sleep(WATCH_EVERY);
    }
    None
}

/// A generated dataset's hash: SHA-256 over its batches' digests in the batches' order, whatever
/// order the scoring threads send them in.
pub(crate) fn hash_in_order(digests: mpsc::Receiver<(u64, [u8; 32])>) -> String {
    let mut pending = std::collections::BTreeMap::new();
    let (mut want, mut h) = (0u64, Sha256::new());
    for (b, digest) in digests {
        pending.insert(b, digest);
        while let Some(digest) = pending.remove(&want) {
            h.update(digest);
            want += 1;
        }
    }
    hex(&h.finalize())
}

/// What scoring produced: the merged statistics and what the record says of the scoring.
pub(crate) struct Scored {
    pub(crate) acc: Accumulator,
    /// SHA-256 over the generated batches' digests in order (a file's own hash replaces it).
    pub(crate) dataset_sha256: String,
    pub(crate) rows: u64,
    pub(crate) seconds: f64,
    /// Seconds per request to a worker.
    pub(crate) latencies: Vec<f64>,
    /// The first source batch (the dataset's first rows in order) with its probabilities, kept
    /// for the stability check of every run and the explanation stage.
    pub(crate) first: Option<(RecordBatch, Vec<f32>)>,
    /// Rows kept at seeded positions of seeded requests across the run, for the stability
    /// check's `sampled` check.
    pub(crate) sampled: Option<crate::stability::Sampled>,
    /// Every row's probability in the dataset's order, when the request keeps them
    /// ([`Request::keep_scores`]): what a comparison of runs pairs row by row.
    pub(crate) scores: Option<Vec<f32>>,
}

/// A whole source batch's statistics: its index, its accumulator and (when kept) its rows'
/// probabilities.
type Batch = (u64, Accumulator, Option<Vec<f32>>);

/// A row kept for the `sampled` check: its source batch, its position there, the row and its
/// probability.
type Kept = (u64, usize, RecordBatch, f32);

/// SplitMix64 of `x`: the seeded choice of requests and positions to keep.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The source's batches cut into units of the run's batch size, shared by every worker's
/// thread, so that all workers stay busy to the end: a whole source batch (64 Ki rows) left
/// to one worker kept the other idle for up to a tenth of the run. A thread that finds the
/// queue empty reads (or generates) the next source batch itself, outside the lock, so
/// generation stays parallel.
struct Units<'a> {
    source: &'a Source,
    rows: usize,
    /// Source batches not yet fully handed out, with the offset of their next unit.
    queue: Mutex<VecDeque<(Arc<Pending>, usize)>>,
    /// The first source batch and its probabilities.
    first: std::sync::OnceLock<(RecordBatch, Vec<f32>)>,
    /// Every source batch's index and rows, to place kept rows in the dataset.
    sizes: Mutex<Vec<(u64, usize)>>,
    /// Rows kept for the `sampled` check.
    kept: Mutex<Vec<Kept>>,
    /// The seed of which requests and positions are kept.
    seed: u64,
    /// Keep rows from a request when its seeded hash is divisible by this.
    every: u64,
}

/// A source batch whose units are being scored. Its statistics are accumulated once all its
/// probabilities are in, from the whole batch in row order, and batches merge in their order:
/// so the report is the same however many workers and whatever batch size scored it
/// (floating-point sums depend on their order).
struct Pending {
    index: u64,
    batch: RecordBatch,
    probs: Mutex<Vec<f32>>,
    /// Rows not yet scored.
    remaining: AtomicUsize,
}

/// Rows `offset..offset + len` of a pending source batch.
struct Unit {
    pending: Arc<Pending>,
    offset: usize,
    rows: RecordBatch,
}

impl Unit {
    /// Stores the unit's probabilities; the whole source batch, when this was its last unit.
    fn complete(self, probs: &[f32]) -> Result<Option<Arc<Pending>>, EvaluateError> {
        if probs.len() != self.rows.num_rows() {
            return Err(EvaluateError::Metrics(format!(
                "the worker returned {} probabilities for {} rows",
                probs.len(),
                self.rows.num_rows()
            )));
        }
        {
            let mut all = self
                .pending
                .probs
                .lock()
                .map_err(|_| EvaluateError::Metrics("a scoring thread panicked".into()))?;
            all[self.offset..self.offset + probs.len()].copy_from_slice(probs);
        }
        let before = self.pending.remaining.fetch_sub(probs.len(), Ordering::AcqRel);
        Ok((before == probs.len()).then_some(self.pending))
    }
}

impl Units<'_> {
    /// Keeps [`crate::stability::SAMPLED_PER_REQUEST`] rows of `unit` at seeded positions when
    /// the unit is one of the seeded ones.
    fn keep(&self, unit: &Unit, probs: &[f32]) {
        let len = unit.rows.num_rows();
        let h = mix(self.seed ^ mix(unit.pending.index) ^ mix(unit.offset as u64).rotate_left(17));
        if len == 0 || probs.len() != len || !h.is_multiple_of(self.every) {
            return;
        }
        let mut at: Vec<usize> = (0..crate::stability::SAMPLED_PER_REQUEST as u64)
            .map(|k| (mix(h ^ (k + 1)) % len as u64) as usize)
            .collect();
        at.sort_unstable();
        at.dedup();
        if let Ok(mut kept) = self.kept.lock() {
            for i in at {
                kept.push((unit.pending.index, unit.offset + i, unit.rows.slice(i, 1), probs[i]));
            }
        }
    }

    /// The kept rows in dataset order (at most [`crate::stability::MAX_SAMPLED`]), placed by the
    /// sizes of the source batches before theirs.
    fn sampled(self) -> Result<Option<crate::stability::Sampled>, EvaluateError> {
        let mut sizes = self.sizes.into_inner().unwrap_or_default();
        sizes.sort_unstable();
        let mut start = std::collections::HashMap::new();
        let mut at = 0u64;
        for (index, rows) in sizes {
            start.insert(index, at);
            at += rows as u64;
        }
        let mut kept: Vec<(u64, RecordBatch, f32)> = self
            .kept
            .into_inner()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(index, i, row, p)| start.get(&index).map(|s| (s + i as u64, row, p)))
            .collect();
        kept.sort_by_key(|(position, _, _)| *position);
        kept.truncate(crate::stability::MAX_SAMPLED);
        let Some((_, row, _)) = kept.first() else {
            return Ok(None);
        };
        let schema = row.schema();
        let rows = arrow::compute::concat_batches(&schema, kept.iter().map(|(_, r, _)| r))
            .map_err(|e| EvaluateError::Stability(e.to_string()))?;
        Ok(Some(crate::stability::Sampled {
            rows,
            probs: kept.iter().map(|(_, _, p)| *p).collect(),
            positions: kept.iter().map(|(position, _, _)| *position).collect(),
        }))
    }

    fn next(&self, hash_tx: &mpsc::SyncSender<(u64, [u8; 32])>) -> Option<Result<Unit, EvaluateError>> {
        loop {
            {
                let Ok(mut queue) = self.queue.lock() else {
                    return Some(Err(EvaluateError::Metrics("a scoring thread panicked".into())));
                };
                if let Some((pending, offset)) = queue.front_mut() {
                    let len = self.rows.min(pending.batch.num_rows() - *offset);
                    let unit = Unit {
                        pending: pending.clone(),
                        offset: *offset,
                        rows: pending.batch.slice(*offset, len),
                    };
                    *offset += len;
                    if *offset >= pending.batch.num_rows() {
                        queue.pop_front();
                    }
                    return Some(Ok(unit));
                }
            }
            let (index, batch) = match self.source.next()? {
                Ok(next) => next,
                Err(e) => return Some(Err(e)),
            };
            if self.source.file_sha256().is_none() {
                let _ = hash_tx.send((index, batch_digest(&batch)));
            }
            let rows = batch.num_rows();
            if let Ok(mut sizes) = self.sizes.lock() {
                sizes.push((index, rows));
            }
            if rows > 0
                && let Ok(mut queue) = self.queue.lock()
            {
                let pending = Pending {
                    index,
                    probs: Mutex::new(vec![0.0; rows]),
                    remaining: AtomicUsize::new(rows),
                    batch,
                };
                queue.push_back((Arc::new(pending), 0));
            }
        }
    }
}

pub(crate) fn score(
    req: &Request,
    prepared: &Prepared,
    pool: &Pool,
    progress: Progress,
    clock: &Clock,
    seed: u64,
) -> Result<Scored, EvaluateError> {
    let threshold = prepared.threshold;
    let names: Vec<&str> = req.groups.iter().map(String::as_str).collect();
    let counterfactual = prepared.source.spec.counterfactual.is_some();
    let columns = Columns {
        label: "outcome_recorded".into(),
        label_true: Some("outcome_true".into()),
        prediction: Some("decision".into()),
        score: Some("probability".into()),
        weight: None,
        groups: req.groups.clone(),
        threshold,
        twin_id: counterfactual.then(|| "person_id".into()),
        is_twin: "is_twin".into(),
    };
    let scored_rows = AtomicU64::new(0);
    let total_rows = prepared.source.expected_rows;
    let latencies = Mutex::new(Vec::<f64>::new());
    let (hash_tx, hash_rx) = mpsc::sync_channel::<(u64, [u8; 32])>(64);
    let t_score = Instant::now();
    let scoring_done = AtomicBool::new(false);
    let batch_rows = req.batch_rows.max(1) as u64;
    let requests = total_rows.div_ceil(batch_rows).max(1);
    let wanted = (crate::stability::MAX_SAMPLED / crate::stability::SAMPLED_PER_REQUEST) as u64;
    let mut units = Units {
        source: &prepared.source,
        rows: req.batch_rows.max(1),
        queue: Mutex::new(VecDeque::new()),
        first: std::sync::OnceLock::new(),
        sizes: Mutex::new(Vec::new()),
        kept: Mutex::new(Vec::new()),
        seed,
        every: requests.div_ceil(wanted).max(1),
    };
    let (accs, dataset_sha, stopped) = std::thread::scope(|s| {
        let (watched, scoring_done) = (pool, &scoring_done);
        let watcher = s.spawn(move || watch(watched, clock, scoring_done));
        let hasher = s.spawn(move || hash_in_order(hash_rx));
        let handles: Vec<_> = (0..pool.size())
            .map(|slot| {
                let (units, columns, names) = (&units, &columns, &names);
                let (scored_rows, latencies, hash_tx) = (&scored_rows, &latencies, hash_tx.clone());
                let feature_columns = &prepared.feature_columns;
                s.spawn(move || -> Result<Vec<Batch>, EvaluateError> {
                    let mut accs = Vec::new();
                    let mut lat = Vec::new();
                    loop {
                        if clock.cancel.load(Ordering::Relaxed) {
                            return Err(EvaluateError::Cancelled);
                        }
                        let Some(unit) = units.next(&hash_tx) else { break };
                        let unit = unit?;
                        let features = unit
                            .rows
                            .project(feature_columns)
                            .map_err(|e| EvaluateError::Dataset(e.to_string()))?;
                        let t = Instant::now();
                        let out = pool.score_on(slot, &features)?;
                        lat.push(t.elapsed().as_secs_f64());
                        let probs: &[f32] = out
                            .column_by_name("probability")
                            .map(|c| c.as_primitive::<Float32Type>().values().as_ref())
                            .unwrap_or_default();
                        let n = unit.rows.num_rows() as u64;
                        let done = scored_rows.fetch_add(n, Ordering::Relaxed) + n;
                        progress(done, total_rows);
                        units.keep(&unit, probs);
                        if let Some(whole) = unit.complete(probs)? {
                            let probs = whole
                                .probs
                                .lock()
                                .map_err(|_| EvaluateError::Metrics("a scoring thread panicked".into()))?;
                            if whole.index == 0 {
                                let _ = units.first.set((whole.batch.clone(), probs.clone()));
                            }
                            let with = with_predictions(&whole.batch, &probs, threshold)?;
                            let mut acc = Accumulator::new(names, true, true, MissingGroups::Error);
                            add_record_batch(&mut acc, &with, columns, 0)
                                .map_err(|e| EvaluateError::Metrics(e.to_string()))?;
                            let kept = req.keep_scores.then(|| probs.clone());
                            accs.push((whole.index, acc, kept));
                        }
                    }
                    if let Ok(mut l) = latencies.lock() {
                        l.extend(lat);
                    }
                    Ok(accs)
                })
            })
            .collect();
        drop(hash_tx);
        let accs: Vec<Result<Vec<Batch>, EvaluateError>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(EvaluateError::Metrics("a scoring thread panicked".into())))
            })
            .collect();
        scoring_done.store(true, Ordering::SeqCst);
        (accs, hasher.join().unwrap_or_default(), watcher.join().unwrap_or(None))
    });
    // A stop by the watcher explains whatever the scoring threads returned.
    if let Some(e) = stopped {
        return Err(e);
    }
    let score_seconds = t_score.elapsed().as_secs_f64();
    // Source batches merge in the data's order, whichever worker scored them: sums of
    // floating-point numbers depend on their order, and one worker and two must give the
    // same report.
    let mut batches: Vec<Batch> = Vec::new();
    for a in accs {
        batches.extend(a?);
    }
    batches.sort_by_key(|(index, _, _)| *index);
    let mut acc = Accumulator::new(&names, true, true, MissingGroups::Error);
    let mut scores = req.keep_scores.then(|| Vec::with_capacity(total_rows as usize));
    for (_, a, kept) in &mut batches {
        acc.merge(a).map_err(|e| EvaluateError::Metrics(e.to_string()))?;
        if let (Some(all), Some(kept)) = (scores.as_mut(), kept.take()) {
            all.extend(kept);
        }
    }
    let scored = scored_rows.load(Ordering::Relaxed);
    if scored != total_rows {
        return Err(prepared
            .source
            .error(format!("{scored} rows, but its spec promises {total_rows}")));
    }
    Ok(Scored {
        acc,
        dataset_sha256: prepared.source.file_sha256().map_or(dataset_sha, str::to_owned),
        rows: scored,
        seconds: score_seconds,
        latencies: latencies.into_inner().unwrap_or_default(),
        first: units.first.take(),
        sampled: units.sampled()?,
        scores,
    })
}
