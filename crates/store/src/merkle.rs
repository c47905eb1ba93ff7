//! The Merkle tree over the audit log, in the shape of RFC 9162 (Certificate Transparency 2.0, §2.1).
//!
//! The hash chain of [`crate::audit`] finds an entry edited, removed or inserted anywhere before the newest one,
//! but someone who can write the database can cut the tail off, or cut it and append a forged continuation, or
//! put back an older copy of the whole database, and the chain is still whole. A tree head (the size and root
//! hash of the tree over the first `size` entries), signed and kept outside the database, pins those entries:
//! any later log must contain them unchanged, which a *consistency proof* shows in `log2(size)` hashes, and any
//! one entry can be shown to be in it with an *inclusion proof* of the same length.
//!
//! The leaf of an entry is its chain hash (32 bytes): that hash already covers every field of the entry under a
//! domain tag, so the tree commits to the entries exactly. Hashing follows RFC 9162: a leaf is
//! `SHA-256(0x00 || data)`, an inner node `SHA-256(0x01 || left || right)`, the empty tree `SHA-256("")`, and a
//! tree of `n > 1` leaves splits at the largest power of two below `n`; so any RFC 9162 verifier checks these
//! proofs, and the tests check the published reference vectors.

use sha2::{Digest as _, Sha256};

/// A SHA-256 value: a leaf hash, an inner node or a root.
pub type Hash = [u8; 32];

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The hash of a leaf holding `data`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an inner node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two smaller than `n` (`n >= 2`): where RFC 9162 splits a tree of `n` leaves.
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The root of the tree over `leaves` (leaf hashes), RFC 9162's MTH.
pub fn root(leaves: &[Hash]) -> Hash {
    let mut f = Frontier::default();
    for l in leaves {
        f.push(*l);
    }
    f.root()
}

/// The RFC's recursive MTH, written as the RFC writes it: the tests' reference for [`Tree`] and [`Frontier`].
#[cfg(test)]
fn subtree(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&subtree(&leaves[..k]), &subtree(&leaves[k..]))
        }
    }
}

/// The tree grown one leaf at a time in memory of `log2(n)` hashes: the roots of the perfect subtrees the
/// leaves so far fill, largest first. Lets a log of any length be hashed while it is read page by page.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    /// `(leaves, hash)` of each perfect subtree, sizes strictly decreasing powers of two.
    peaks: Vec<(u64, Hash)>,
    size: u64,
}

impl Frontier {
    /// Appends one leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut node = (1u64, leaf);
        while let Some(&(size, hash)) = self.peaks.last() {
            if size != node.0 {
                break;
            }
            self.peaks.pop();
            node = (size * 2, node_hash(&hash, &node.1));
        }
        self.peaks.push(node);
        self.size += 1;
    }

    /// How many leaves it holds.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the tree over every leaf pushed: the peaks folded from the right, which is RFC 9162's split
    /// (the left part of every split is the largest perfect subtree).
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(&(_, mut acc)) = peaks.next() else {
            return empty_root();
        };
        for (_, left) in peaks {
            acc = node_hash(left, &acc);
        }
        acc
    }
}

/// Why a proof can't be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf asked for is not in the tree of that size.
    #[error("leaf {index} is not in a tree of {size} leaves (leaves are numbered from 0)")]
    NoSuchLeaf {
        /// The leaf asked for.
        index: u64,
        /// The tree's size.
        size: u64,
    },
    /// The tree sizes asked for are out of order or beyond the log.
    #[error("no consistency proof from size {from} to size {to}: the sizes must satisfy 0 <= from <= to <= {have}")]
    BadSizes {
        /// The older tree's size.
        from: u64,
        /// The newer tree's size.
        to: u64,
        /// The log's size.
        have: u64,
    },
}

/// The tree kept whole: the roots of every perfect, aligned subtree, level by level (2n hashes for n leaves).
/// Every node of an RFC 9162 tree over a prefix of the leaves is one of them or is found from them in
/// `log2(n)` hashes, so a proof costs `log2(n)²` hashes at most, not `n`: what lets the service prove many entries
/// (an evidence bundle proves every entry of a case) against one large log.
#[derive(Debug, Clone)]
pub struct Tree {
    /// `levels[h][i]`: the root of leaves `i·2^h .. (i+1)·2^h`.
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// The tree over `leaves` (leaf hashes).
    pub fn new(leaves: Vec<Hash>) -> Self {
        let mut levels = vec![leaves];
        while let Some(last) = levels.last().filter(|l| l.len() > 1) {
            let next: Vec<Hash> = last.chunks_exact(2).map(|p| node_hash(&p[0], &p[1])).collect();
            levels.push(next);
        }
        Self { levels }
    }

    /// How many leaves it holds.
    pub fn size(&self) -> u64 {
        self.levels[0].len() as u64
    }

    /// Leaf `index`'s hash.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels[0].get(usize::try_from(index).ok()?).copied()
    }

    /// RFC 9162's MTH of leaves `a..b`, for a range that is a node of the tree over some prefix: its start is
    /// a multiple of its left part's size, so the left part is always a stored perfect subtree.
    fn node(&self, a: usize, b: usize) -> Hash {
        let n = b - a;
        if n == 0 {
            return empty_root();
        }
        if n.is_power_of_two() && a.is_multiple_of(n) {
            return self.levels[n.trailing_zeros() as usize][a / n];
        }
        let k = split(n);
        node_hash(&self.node(a, a + k), &self.node(a + k, b))
    }

    /// The root of the tree over the first `size` leaves.
    pub fn root(&self, size: u64) -> Result<Hash, ProofError> {
        if size > self.size() {
            return Err(ProofError::BadSizes {
                from: size,
                to: size,
                have: self.size(),
            });
        }
        Ok(self.node(0, size as usize))
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` leaves (RFC 9162 §2.1.3.1, PATH),
    /// leaf to root.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        if index >= size || size > self.size() {
            return Err(ProofError::NoSuchLeaf { index, size });
        }
        let mut out = Vec::new();
        self.path(index as usize, 0, size as usize, &mut out);
        Ok(out)
    }

    fn path(&self, m: usize, a: usize, b: usize, out: &mut Vec<Hash>) {
        if b - a <= 1 {
            return;
        }
        let k = split(b - a);
        if m < k {
            self.path(m, a, a + k, out);
            out.push(self.node(a + k, b));
        } else {
            self.path(m - k, a + k, b, out);
            out.push(self.node(a, a + k));
        }
    }

    /// The consistency proof from the tree of the first `from` leaves to that of the first `to` (RFC 9162
    /// §2.1.4.1, PROOF). Empty when `from` is 0 or equals `to`.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, ProofError> {
        if from > to || to > self.size() {
            return Err(ProofError::BadSizes {
                from,
                to,
                have: self.size(),
            });
        }
        let mut out = Vec::new();
        if from > 0 && from < to {
            self.sub(from as usize, 0, to as usize, true, &mut out);
        }
        Ok(out)
    }

    fn sub(&self, m: usize, a: usize, b: usize, complete: bool, out: &mut Vec<Hash>) {
        let n = b - a;
        if m == n {
            if !complete {
                out.push(self.node(a, b));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            self.sub(m, a, a + k, complete, out);
            out.push(self.node(a + k, b));
        } else {
            self.sub(m - k, a + k, b, false, out);
            out.push(self.node(a, a + k));
        }
    }
}

/// The inclusion proof of leaf `index` in the tree over `leaves` (see [`Tree::inclusion_proof`]).
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, ProofError> {
    Tree::new(leaves.to_vec()).inclusion_proof(index, leaves.len() as u64)
}

/// The consistency proof from the tree of the first `from` leaves to the tree over all `leaves` (see
/// [`Tree::consistency_proof`]).
pub fn consistency_proof(leaves: &[Hash], from: u64) -> Result<Vec<Hash>, ProofError> {
    let to = leaves.len() as u64;
    Tree::new(leaves.to_vec()).consistency_proof(from, to)
}

/// Whether `proof` shows the leaf hash `leaf` at `index` in the tree of `size` leaves with root `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// Whether `proof` shows that the tree of `from` leaves with root `from_root` is a prefix of the tree of `to`
/// leaves with root `to_root` (RFC 9162 §2.1.4.2). Equal sizes need equal roots and an empty proof; from the
/// empty tree, every tree is an extension (and the proof is empty).
pub fn verify_consistency(from: u64, to: u64, from_root: &Hash, to_root: &Hash, proof: &[Hash]) -> bool {
    if from > to {
        return false;
    }
    if from == to {
        return proof.is_empty() && from_root == to_root;
    }
    if from == 0 {
        return proof.is_empty() && *from_root == empty_root();
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if from.is_power_of_two() {
        path.push(*from_root);
    }
    path.extend_from_slice(proof);
    let (mut f, mut s) = (from - 1, to - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && fr == *from_root && sr == *to_root
}

/// How a log fails a checkpoint taken earlier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Divergence {
    /// The log is shorter than the checkpoint: entries were removed from its end, or an older copy of the
    /// database was put back.
    #[error(
        "the audit log has {log_size} entries, but the checkpoint of {time} covers {checkpoint_size}: entries were \
         removed from its end, or an older copy of the database was restored"
    )]
    Shorter {
        /// Entries the checkpoint covers.
        checkpoint_size: u64,
        /// When the checkpoint was taken.
        time: String,
        /// Entries the log has.
        log_size: u64,
    },
    /// The log's first entries are not those the checkpoint signed.
    #[error(
        "the audit log's first {checkpoint_size} entries are not those the checkpoint of {time} signed (its root \
         is {checkpoint_root}, theirs {log_root}): entries were replaced, for example cut off and continued with \
         forged ones"
    )]
    Rewritten {
        /// Entries the checkpoint covers.
        checkpoint_size: u64,
        /// When the checkpoint was taken.
        time: String,
        /// The checkpoint's root, hex.
        checkpoint_root: String,
        /// The root of the log's first `checkpoint_size` entries, hex.
        log_root: String,
    },
}

/// The leaf of an audit entry: its chain hash (64 hex digits) as 32 bytes, hashed as a leaf. `None` if the hash
/// is not 64 hex digits (a chain that verified never has one).
pub fn audit_leaf(entry_hash: &str) -> Option<Hash> {
    from_hex(entry_hash).map(|h| leaf_hash(&h))
}

/// Lower-case hex of a hash.
pub fn to_hex(h: &Hash) -> String {
    crate::digest::hex(h)
}

/// A hash from 64 hex digits, `None` otherwise.
pub fn from_hex(s: &str) -> Option<Hash> {
    if s.len() != 64 {
        return None;
    }
    // Digits only: `from_str_radix` would also take a sign.
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Hash {
        from_hex(s).unwrap()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The RFC 6962 reference leaves and tree heads (transparency-dev/merkle's `testonly`, also used by the
    /// Certificate Transparency implementations), as data.
    fn reference_leaves() -> Vec<Hash> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|s| leaf_hash(&unhex(s)))
        .collect()
    }

    const REFERENCE_ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    #[test]
    fn roots_are_the_reference_roots() {
        let leaves = reference_leaves();
        for (n, want) in REFERENCE_ROOTS.iter().enumerate() {
            assert_eq!(to_hex(&root(&leaves[..n])), *want, "size {n}");
            assert_eq!(to_hex(&subtree(&leaves[..n])), *want, "size {n}, recursive");
        }
    }

    #[test]
    fn proofs_are_the_reference_proofs() {
        let leaves = reference_leaves();
        let inclusion = [
            (
                0,
                vec![
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                vec![
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        let root8 = h(REFERENCE_ROOTS[8]);
        for (index, want) in inclusion {
            let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
            assert_eq!(inclusion_proof(&leaves, index).unwrap(), want);
            assert!(verify_inclusion(&leaves[index as usize], index, 8, &want, &root8));
        }
        let consistency = [
            (
                2,
                vec![
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                vec![
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        for (from, want) in consistency {
            let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
            assert_eq!(consistency_proof(&leaves, from).unwrap(), want);
            assert!(verify_consistency(
                from,
                8,
                &h(REFERENCE_ROOTS[from as usize]),
                &root8,
                &want
            ));
        }
    }

    fn many(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&(i as u64).to_be_bytes())).collect()
    }

    #[test]
    fn every_proof_verifies_and_a_mangled_one_does_not() {
        let all = many(40);
        let roots: Vec<Hash> = (0..=all.len()).map(|n| root(&all[..n])).collect();
        for n in 1..=all.len() {
            let tree = &all[..n];
            for i in 0..n as u64 {
                let p = inclusion_proof(tree, i).unwrap();
                assert!(
                    verify_inclusion(&tree[i as usize], i, n as u64, &p, &roots[n]),
                    "{i} in {n}"
                );
                // Another leaf, another index, another size, a changed or shortened path: refused.
                assert!(!verify_inclusion(&leaf_hash(b"x"), i, n as u64, &p, &roots[n]));
                if n > 1 {
                    assert!(!verify_inclusion(
                        &tree[i as usize],
                        (i + 1) % n as u64,
                        n as u64,
                        &p,
                        &roots[n]
                    ));
                    let mut bad = p.clone();
                    bad[0][0] ^= 1;
                    assert!(!verify_inclusion(&tree[i as usize], i, n as u64, &bad, &roots[n]));
                    assert!(!verify_inclusion(&tree[i as usize], i, n as u64, &p[1..], &roots[n]));
                }
                // The same path against the next tree head (which has one more leaf) fails.
                if n < all.len() {
                    assert!(!verify_inclusion(&tree[i as usize], i, n as u64 + 1, &p, &roots[n + 1]));
                }
            }
            for m in 0..=n as u64 {
                let p = consistency_proof(tree, m).unwrap();
                assert!(
                    verify_consistency(m, n as u64, &roots[m as usize], &roots[n], &p),
                    "{m} -> {n}"
                );
                if 0 < m && m < n as u64 {
                    // A different old tree (one leaf changed) is not a prefix of this one.
                    let mut other = tree[..m as usize].to_vec();
                    other[0][5] ^= 1;
                    assert!(!verify_consistency(m, n as u64, &root(&other), &roots[n], &p));
                    let mut bad = p.clone();
                    bad[p.len() - 1][0] ^= 1;
                    assert!(!verify_consistency(m, n as u64, &roots[m as usize], &roots[n], &bad));
                    assert!(!verify_consistency(
                        m,
                        n as u64,
                        &roots[m as usize],
                        &roots[n],
                        &p[..p.len() - 1]
                    ));
                    let mut longer = p.clone();
                    longer.push([7; 32]);
                    assert!(!verify_consistency(m, n as u64, &roots[m as usize], &roots[n], &longer));
                }
            }
        }
        assert!(!verify_consistency(3, 2, &roots[3], &roots[2], &[]));
        assert_eq!(
            inclusion_proof(&all[..3], 3),
            Err(ProofError::NoSuchLeaf { index: 3, size: 3 })
        );
        assert!(consistency_proof(&all[..3], 4).is_err());
    }

    /// The kept tree gives the RFC's recursive roots and the same proofs at every prefix of one tree.
    #[test]
    fn the_kept_tree_answers_for_every_prefix() {
        let all = many(70);
        let tree = Tree::new(all.clone());
        for n in 0..=all.len() {
            assert_eq!(tree.root(n as u64).unwrap(), subtree(&all[..n]), "{n}");
            let alone = Tree::new(all[..n].to_vec());
            for i in 0..n as u64 {
                assert_eq!(tree.inclusion_proof(i, n as u64), alone.inclusion_proof(i, n as u64));
            }
            for m in 0..=n as u64 {
                let p = tree.consistency_proof(m, n as u64).unwrap();
                assert!(verify_consistency(
                    m,
                    n as u64,
                    &subtree(&all[..m as usize]),
                    &subtree(&all[..n]),
                    &p
                ));
            }
        }
        assert!(tree.root(71).is_err() && tree.inclusion_proof(70, 70).is_err());
    }

    #[test]
    fn hex_is_digits_only() {
        let h = "ab".repeat(32);
        assert_eq!(from_hex(&h), Some([0xab; 32]));
        assert_eq!(from_hex(&format!("+f{}", &h[2..])), None);
        assert_eq!(from_hex(&h[2..]), None);
    }

    #[test]
    fn the_split_is_the_largest_power_of_two_below() {
        for (n, k) in [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1000, 512)] {
            assert_eq!(split(n), k, "{n}");
        }
    }
}
