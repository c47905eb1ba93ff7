//! The streaming, mergeable accumulator: per intersection cell of all group attributes, the
//! confusion cells (against the label and, optionally, the true label) and the score
//! statistics. Every group of every attribute and every intersection is a sum of cells, so
//! chunks, threads and machines combine to exactly the same result.

use crate::cells::Cells;
use crate::counterfactual::Twins;
use crate::input::{Batch, InputError, MISSING, MissingGroups};
use crate::scores::{ScoreStats, ScoreSums};
use std::collections::HashMap;

/// Sufficient statistics of one group (or one intersection cell).
#[derive(Debug, Clone, Default)]
pub struct GroupStats {
    pub cells: Cells,
    pub cells_true: Cells,
    pub scores: ScoreStats,
}

impl GroupStats {
    pub fn merge(&mut self, o: &GroupStats) {
        self.cells.merge(&o.cells);
        self.cells_true.merge(&o.cells_true);
        self.scores.merge(&o.scores);
    }
}

/// The statistics of a group that merge by addition: [`GroupStats`] without the scored rows.
/// A report's groups are sums of cells; their rows stay with the cells.
#[derive(Debug, Clone, Default)]
pub struct GroupSums {
    pub cells: Cells,
    pub cells_true: Cells,
    pub scores: ScoreSums,
}

impl GroupSums {
    pub fn add(&mut self, o: &GroupStats) {
        self.cells.merge(&o.cells);
        self.cells_true.merge(&o.cells_true);
        self.scores.merge(o.scores.sums());
    }
}

/// Accumulates batches into per-cell statistics.
#[derive(Debug, Clone)]
pub struct Accumulator {
    names: Vec<String>,
    values: Vec<Vec<String>>,
    index: Vec<HashMap<String, u32>>,
    cells: HashMap<Vec<u32>, GroupStats>,
    has_scores: bool,
    has_label_true: bool,
    missing: MissingGroups,
    twins: Option<Twins>,
}

/// Local cells of one batch above this many combinations go through a hash map instead of a
/// dense table.
const DENSE_LIMIT: usize = 1 << 16;

impl Accumulator {
    /// An empty accumulator for these group attributes. `has_scores` and `has_label_true` say which optional columns every batch will carry, so a merge of accumulators built for different inputs is refused instead of mixing statistics.
    pub fn new(attributes: &[&str], has_scores: bool, has_label_true: bool, missing: MissingGroups) -> Self {
        Self {
            names: attributes.iter().map(|s| (*s).to_owned()).collect(),
            values: vec![Vec::new(); attributes.len()],
            index: vec![HashMap::new(); attributes.len()],
            cells: HashMap::new(),
            has_scores,
            has_label_true,
            missing,
            twins: None,
        }
    }

    /// The group attributes, in the order given to [`Accumulator::new`].
    pub fn attributes(&self) -> &[String] {
        &self.names
    }

    /// Observed values of attribute `a`, in order of first appearance.
    pub fn values(&self, a: usize) -> &[String] {
        &self.values[a]
    }

    /// Whether batches carry scores, so score metrics (AUC, calibration) are computed.
    pub fn has_scores(&self) -> bool {
        self.has_scores
    }

    /// Whether batches carry the true outcome beside the recorded one.
    pub fn has_label_true(&self) -> bool {
        self.has_label_true
    }

    /// The non-empty intersection cells of all attributes.
    pub fn cells(&self) -> impl Iterator<Item = (&Vec<u32>, &GroupStats)> {
        self.cells.iter()
    }

    fn code(&mut self, a: usize, value: &str) -> u32 {
        if let Some(&c) = self.index[a].get(value) {
            return c;
        }
        let c = self.values[a].len() as u32;
        self.values[a].push(value.to_owned());
        self.index[a].insert(value.to_owned(), c);
        c
    }

    /// Per group column: batch dictionary code -> global code; the extra last entry is the code
    /// of the missing value.
    fn translation(&mut self, b: &Batch) -> Vec<Vec<u32>> {
        (0..b.groups.len())
            .map(|a| {
                let g = &b.groups[a];
                let mut t: Vec<u32> = g.dictionary.iter().map(|v| self.code(a, v)).collect();
                let has_missing = g.valid.is_some_and(|v| v.iter().any(|x| !x));
                t.push(if has_missing { self.code(a, MISSING) } else { u32::MAX });
                t
            })
            .collect()
    }

    /// Adds one batch after validating it.
    pub fn add(&mut self, b: &Batch) -> Result<(), InputError> {
        b.validate(self.missing)?;
        let names: Vec<&str> = b.groups.iter().map(|g| g.name).collect();
        if names != self.names.iter().map(String::as_str).collect::<Vec<_>>() {
            return Err(InputError::Other(format!(
                "batch has group columns {names:?}, the accumulator {:?}",
                self.names
            )));
        }
        if b.score.is_some() != self.has_scores || b.label_true.is_some() != self.has_label_true {
            return Err(InputError::Other(
                "every batch must have the same optional columns".into(),
            ));
        }
        let translate = self.translation(b);
        let radix: Vec<usize> = b.groups.iter().map(|g| g.dictionary.len() + 1).collect();
        let combos = radix.iter().try_fold(1usize, |acc, &r| acc.checked_mul(r));
        let n = b.len();
        let local_index = |i: usize| -> usize {
            let mut idx = 0usize;
            for (g, &r) in b.groups.iter().zip(&radix) {
                let c = if g.valid.is_none_or(|v| v[i]) {
                    g.codes[i] as usize
                } else {
                    r - 1
                };
                idx = idx * r + c;
            }
            idx
        };
        let mut local: Vec<GroupStats> = Vec::new();
        let mut keys: Vec<usize> = Vec::new();
        let mut slot_of_dense: Vec<u32> = Vec::new();
        let mut slot_of_sparse: HashMap<usize, u32> = HashMap::new();
        let dense = combos.is_some_and(|c| c <= DENSE_LIMIT);
        if dense {
            slot_of_dense = vec![u32::MAX; combos.unwrap_or(0)];
        }
        for i in 0..n {
            let idx = local_index(i);
            let slot = if dense {
                let s = &mut slot_of_dense[idx];
                if *s == u32::MAX {
                    *s = local.len() as u32;
                    local.push(GroupStats::default());
                    keys.push(idx);
                }
                *s
            } else {
                *slot_of_sparse.entry(idx).or_insert_with(|| {
                    local.push(GroupStats::default());
                    keys.push(idx);
                    (local.len() - 1) as u32
                })
            } as usize;
            let w = b.weight.map_or(1.0, |c| c.values[i]);
            let y = b.label.values[i] == 1;
            let p = b.prediction.values[i] == 1;
            let st = &mut local[slot];
            st.cells.add(y, p, w);
            if let Some(t) = &b.label_true {
                st.cells_true.add(t.values[i] == 1, p, w);
            }
            if let Some(s) = &b.score {
                st.scores.add(s.values[i], y, w);
            }
        }
        for (idx, st) in keys.into_iter().zip(local) {
            let mut rest = idx;
            let mut key = vec![0u32; radix.len()];
            for a in (0..radix.len()).rev() {
                key[a] = translate[a][rest % radix[a]];
                rest /= radix[a];
            }
            self.cells.entry(key).or_default().merge(&st);
        }
        Ok(())
    }

    /// The twin pairs seen so far, if any twin rows were added.
    pub fn twins(&self) -> Option<&Twins> {
        self.twins.as_ref()
    }

    /// Adds rows to the counterfactual pairing: `ids` pair a citizen with their twin, `twin`
    /// marks the counterfactual half. Only decisions, scores and group values are used.
    pub fn add_twins(&mut self, b: &Batch, ids: &[u64], twin: &[bool]) -> Result<(), InputError> {
        b.validate(self.missing)?;
        for (name, len) in [("twin id", ids.len()), ("is_twin", twin.len())] {
            if len != b.len() {
                return Err(InputError::Length {
                    column: name.to_owned(),
                    got: len,
                    expected: b.len(),
                    reference: b.label.name.to_owned(),
                });
            }
        }
        let translate = self.translation(b);
        let twins = self.twins.get_or_insert_with(Twins::default);
        for i in 0..b.len() {
            let values = b
                .groups
                .iter()
                .zip(&translate)
                .map(|(g, t)| {
                    if g.valid.is_none_or(|v| v[i]) {
                        t[g.codes[i] as usize]
                    } else {
                        t[g.dictionary.len()]
                    }
                })
                .collect();
            twins.add(
                ids[i],
                twin[i],
                b.prediction.values[i] == 1,
                b.score.map(|s| s.values[i]),
                values,
            );
        }
        Ok(())
    }

    /// Merges another accumulator over the same attributes (values are matched by name).
    /// The same statistics with each attribute's values in sorted order and the cell keys
    /// recoded to match. Codes are otherwise handed out in first-seen order, which depends on
    /// how batches were split over threads; a report built from the canonical form (group
    /// order, bootstrap draws) is the same however the work was divided.
    pub fn canonical(&self) -> Accumulator {
        let mut out = Accumulator {
            names: self.names.clone(),
            values: vec![Vec::new(); self.names.len()],
            index: vec![HashMap::new(); self.names.len()],
            cells: HashMap::with_capacity(self.cells.len()),
            has_scores: self.has_scores,
            has_label_true: self.has_label_true,
            missing: self.missing,
            twins: None,
        };
        for a in 0..self.names.len() {
            let mut sorted = self.values[a].clone();
            sorted.sort();
            for v in &sorted {
                out.code(a, v);
            }
        }
        let recode: Vec<Vec<u32>> = (0..self.names.len())
            .map(|a| self.values[a].iter().map(|v| out.index[a][v.as_str()]).collect())
            .collect();
        for (key, st) in &self.cells {
            let k: Vec<u32> = key.iter().enumerate().map(|(a, &c)| recode[a][c as usize]).collect();
            out.cells.insert(k, st.clone());
        }
        out.twins = self.twins.as_ref().map(|t| {
            t.clone()
                .translated(&|a, c| recode[a].get(c as usize).copied().unwrap_or(c))
        });
        out
    }

    /// Adds another accumulator's statistics (another thread's or chunk's); the result is exactly what one accumulator fed both inputs would hold. Refused when the two were built for different attributes or columns.
    pub fn merge(&mut self, other: &Accumulator) -> Result<(), InputError> {
        if other.names != self.names
            || other.has_scores != self.has_scores
            || other.has_label_true != self.has_label_true
        {
            return Err(InputError::Other(
                "cannot merge accumulators over different columns".into(),
            ));
        }
        let translate: Vec<Vec<u32>> = (0..self.names.len())
            .map(|a| other.values[a].iter().map(|v| self.code(a, v)).collect())
            .collect();
        for (key, st) in &other.cells {
            let k: Vec<u32> = key.iter().enumerate().map(|(a, &c)| translate[a][c as usize]).collect();
            self.cells.entry(k).or_default().merge(st);
        }
        if let Some(t) = &other.twins {
            let t = t
                .clone()
                .translated(&|a, c| translate[a].get(c as usize).copied().unwrap_or(c));
            self.twins.get_or_insert_with(Twins::default).merge(t);
        }
        Ok(())
    }
}
