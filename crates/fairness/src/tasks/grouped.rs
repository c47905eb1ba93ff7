//! Statistics per intersection cell of the group attributes, for any task: the cells merge by their own rule,
//! and every group of every attribute is the merge of its cells.

use crate::input::{GroupCol, InputError, MISSING, MissingGroups};
use std::collections::HashMap;

/// Statistics that merge: a cell's, a group's, the whole population's.
pub trait CellStats: Default + Clone {
    /// Adds another's rows.
    fn merge(&mut self, other: &Self);
    /// Rows (or their total weight).
    fn count(&self) -> u64;
}

/// The group columns of a batch, checked against its length.
#[derive(Debug, Clone, Copy)]
pub struct GroupColumns<'a> {
    /// The attributes, in the order the accumulator was made with.
    pub groups: &'a [GroupCol<'a>],
}

impl GroupColumns<'_> {
    /// Checks lengths, missing values and codes; every error names the column and the row.
    pub fn validate(&self, rows: usize, reference: &str, missing: MissingGroups) -> Result<(), InputError> {
        if self.groups.is_empty() {
            return Err(InputError::NoGroups);
        }
        for g in self.groups {
            for len in [Some(g.codes.len()), g.valid.map(<[bool]>::len)].into_iter().flatten() {
                if len != rows {
                    return Err(InputError::Length {
                        column: g.name.to_owned(),
                        got: len,
                        expected: rows,
                        reference: reference.to_owned(),
                    });
                }
            }
            if let Some(valid) = g.valid
                && missing == MissingGroups::Error
                && let Some(row) = valid.iter().position(|v| !v)
            {
                return Err(InputError::MissingGroup {
                    column: g.name.to_owned(),
                    row,
                });
            }
            if let Some(row) =
                (0..rows).find(|&i| g.codes[i] as usize >= g.dictionary.len() && g.valid.is_none_or(|v| v[i]))
            {
                return Err(InputError::Other(format!(
                    "group column {:?}, row {row}: code {} is outside its dictionary of {} values",
                    g.name,
                    g.codes[row],
                    g.dictionary.len()
                )));
            }
        }
        Ok(())
    }
}

/// Per intersection cell (the codes of each attribute's value), the statistics `S`.
#[derive(Debug, Clone)]
pub struct Grouped<S> {
    names: Vec<String>,
    values: Vec<Vec<String>>,
    index: Vec<HashMap<String, u32>>,
    cells: HashMap<Vec<u32>, S>,
}

impl<S: CellStats> Grouped<S> {
    /// Empty, for these attributes.
    pub fn new(attributes: &[&str]) -> Self {
        Self {
            names: attributes.iter().map(|s| (*s).to_owned()).collect(),
            values: vec![Vec::new(); attributes.len()],
            index: vec![HashMap::new(); attributes.len()],
            cells: HashMap::new(),
        }
    }

    /// The attributes.
    pub fn attributes(&self) -> &[String] {
        &self.names
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

    /// Adds `rows` rows (groups already validated): `add(cell, row)` puts row `row` into its cell's statistics.
    pub fn add_rows(
        &mut self,
        groups: &[GroupCol<'_>],
        rows: usize,
        mut add: impl FnMut(&mut S, usize),
    ) -> Result<(), InputError> {
        if groups.len() != self.names.len() || groups.iter().zip(&self.names).any(|(g, n)| g.name != n) {
            return Err(InputError::Other(format!(
                "the batch's group columns {:?} are not the accumulator's {:?}",
                groups.iter().map(|g| g.name).collect::<Vec<_>>(),
                self.names
            )));
        }
        let translation: Vec<Vec<u32>> = groups
            .iter()
            .enumerate()
            .map(|(a, g)| {
                let mut t: Vec<u32> = g.dictionary.iter().map(|v| self.code(a, v)).collect();
                let missing = g.valid.is_some_and(|v| v.iter().any(|x| !x));
                t.push(if missing { self.code(a, MISSING) } else { u32::MAX });
                t
            })
            .collect();
        let mut key = vec![0u32; groups.len()];
        for row in 0..rows {
            for (a, g) in groups.iter().enumerate() {
                let valid = g.valid.is_none_or(|v| v[row]);
                let t = &translation[a];
                key[a] = if valid {
                    t[g.codes[row] as usize]
                } else {
                    t[t.len() - 1]
                };
            }
            if let Some(cell) = self.cells.get_mut(&key) {
                add(cell, row);
            } else {
                let mut cell = S::default();
                add(&mut cell, row);
                self.cells.insert(key.clone(), cell);
            }
        }
        Ok(())
    }

    /// Adds another accumulator's cells (made for the same attributes, from other rows).
    pub fn merge(&mut self, other: &Grouped<S>) -> Result<(), InputError> {
        if self.names != other.names {
            return Err(InputError::Other(format!(
                "accumulators for different attributes cannot merge: {:?} and {:?}",
                self.names, other.names
            )));
        }
        // The other's values in its own order first: groups are reported in order of first
        // appearance, and the cells below come in a hash map's order, which differs every run.
        let translation: Vec<Vec<u32>> = (0..self.names.len())
            .map(|a| other.values[a].iter().map(|v| self.code(a, v)).collect())
            .collect();
        for (key, stats) in &other.cells {
            let key: Vec<u32> = key
                .iter()
                .enumerate()
                .map(|(a, &c)| translation[a][c as usize])
                .collect();
            self.cells.entry(key).or_default().merge(stats);
        }
        Ok(())
    }

    /// Every row's statistics together.
    pub fn overall(&self) -> S {
        let mut s = S::default();
        for key in self.sorted_keys() {
            s.merge(&self.cells[&key]);
        }
        s
    }

    /// Cell keys in a fixed order, so that sums do not depend on a hash map's order.
    fn sorted_keys(&self) -> Vec<Vec<u32>> {
        let mut keys: Vec<Vec<u32>> = self.cells.keys().cloned().collect();
        keys.sort_by(|a, b| self.names_of(a).cmp(&self.names_of(b)));
        keys
    }

    fn names_of(&self, key: &[u32]) -> Vec<&str> {
        key.iter()
            .enumerate()
            .map(|(a, &c)| self.values[a][c as usize].as_str())
            .collect()
    }

    /// The groups of attribute `a`, ordered by value (as the yes/no engine orders them: the order of
    /// first appearance depends on how the data was cut into batches and on a file's dictionaries), each
    /// the merge of its cells.
    pub fn groups(&self, a: usize) -> Vec<(String, S)> {
        let mut out: Vec<(String, S)> = self.values[a].iter().map(|v| (v.clone(), S::default())).collect();
        for key in self.sorted_keys() {
            out[key[a] as usize].1.merge(&self.cells[&key]);
        }
        out.sort_by(|x, y| x.0.cmp(&y.0));
        out
    }

    /// The intersections of all attributes that have rows, named by their values joined with ` & `, ordered by
    /// name.
    pub fn intersections(&self) -> Vec<(String, S)> {
        self.sorted_keys()
            .into_iter()
            .map(|key| (self.names_of(&key).join(" & "), self.cells[&key].clone()))
            .collect()
    }
}
