//! Columnar evaluation of checked expressions: each node computes a whole batch's column at
//! once (a tight loop per operator the compiler can vectorise), never one row at a time
//! through an interpreter. Random draws are pure functions of the row's key, so a node that
//! draws is a loop over the batch's row keys.

use super::expr::BinOp;
use super::ir::{DrawKind, F1, Node};
use crate::rng::{RowRng, poisson_inv, sigmoid};

/// A column while it is computed: a constant, a column of its own, or one it reads.
pub enum Col<'a> {
    Scalar(f64),
    Owned(Vec<f64>),
    Borrowed(&'a [f64]),
}

// Buffers of finished temporary columns, reused by the next ones on the same thread: a batch
// evaluates hundreds of temporaries of the same length, and allocating each afresh had the
// kernel zero new pages for a fifth of the generator's time. At most `MAX_SPARE` are kept, each
// of at most `MAX_SPARE_LEN` values (32 MiB a thread at most; 16 MiB at the default batch).
thread_local! {
    static SPARE: std::cell::RefCell<Vec<Vec<f64>>> = const { std::cell::RefCell::new(Vec::new()) };
}
const MAX_SPARE: usize = 32;
/// The longest buffer kept: a batch at the default size (64 Ki rows) is reused; the long
/// columns of a whole dataset's path twins are freed, not kept for later small batches.
const MAX_SPARE_LEN: usize = 1 << 17;

/// A column of the values of `it`, in a spare buffer when there is one.
fn fill(n: usize, it: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v = SPARE.with(|s| s.borrow_mut().pop()).unwrap_or_default();
    v.clear();
    v.reserve(n);
    v.extend(it);
    v
}

impl Drop for Col<'_> {
    fn drop(&mut self) {
        if let Col::Owned(v) = self {
            let v = std::mem::take(v);
            if v.capacity() > 0 && v.capacity() <= MAX_SPARE_LEN {
                SPARE.with(|s| {
                    let mut s = s.borrow_mut();
                    if s.len() < MAX_SPARE {
                        s.push(v);
                    }
                });
            }
        }
    }
}

impl Col<'_> {
    /// The value of row `i`.
    #[inline]
    pub fn at(&self, i: usize) -> f64 {
        match self {
            Col::Scalar(v) => *v,
            Col::Owned(v) => v[i],
            Col::Borrowed(v) => v[i],
        }
    }

    /// The column as its own vector of `n` values.
    pub fn into_vec(mut self, n: usize) -> Vec<f64> {
        match &mut self {
            Col::Scalar(v) => vec![*v; n],
            Col::Owned(v) => std::mem::take(v),
            Col::Borrowed(v) => v.to_vec(),
        }
    }
}

/// What a batch's expressions read.
pub struct Frame<'a> {
    pub n: usize,
    /// Population inputs by [`super::ir::Input`] as index; empty when unused.
    pub inputs: &'a [Vec<f64>],
    /// True values of the variables computed so far, by variable index.
    pub vars: &'a [Vec<f64>],
    /// The truth after measurement bias, in an `observed` expression; the true outcome in a
    /// numeric outcome's `recorded`.
    pub measured: Option<&'a [f64]>,
    /// A numeric outcome's expected value, in its `value` and `recorded`.
    pub expected: Option<&'a [f64]>,
    pub rngs: &'a [RowRng],
    pub tables: &'a [Vec<f64>],
}

fn map1(mut a: Col<'_>, n: usize, f: impl Fn(f64) -> f64) -> Col<'static> {
    match &mut a {
        Col::Scalar(v) => Col::Scalar(f(*v)),
        Col::Owned(v) => {
            let mut v = std::mem::take(v);
            v.iter_mut().for_each(|x| *x = f(*x));
            Col::Owned(v)
        }
        Col::Borrowed(v) => Col::Owned(fill(n, v[..n].iter().map(|x| f(*x)))),
    }
}

fn map2(mut a: Col<'_>, mut b: Col<'_>, n: usize, f: impl Fn(f64, f64) -> f64) -> Col<'static> {
    match (&mut a, &mut b) {
        (Col::Scalar(x), Col::Scalar(y)) => Col::Scalar(f(*x, *y)),
        (Col::Owned(v), b) => {
            let mut v = std::mem::take(v);
            match b {
                Col::Scalar(y) => v.iter_mut().for_each(|x| *x = f(*x, *y)),
                Col::Owned(w) => v.iter_mut().zip(w.iter()).for_each(|(x, y)| *x = f(*x, *y)),
                Col::Borrowed(w) => v.iter_mut().zip(w.iter()).for_each(|(x, y)| *x = f(*x, *y)),
            }
            Col::Owned(v)
        }
        (a, Col::Owned(w)) => {
            let mut w = std::mem::take(w);
            match a {
                Col::Scalar(x) => w.iter_mut().for_each(|y| *y = f(*x, *y)),
                Col::Borrowed(v) => w.iter_mut().zip(v.iter()).for_each(|(y, x)| *y = f(*x, *y)),
                Col::Owned(_) => unreachable!("matched above"),
            }
            Col::Owned(w)
        }
        (Col::Borrowed(v), Col::Scalar(y)) => Col::Owned(fill(n, v[..n].iter().map(|x| f(*x, *y)))),
        (Col::Scalar(x), Col::Borrowed(w)) => Col::Owned(fill(n, w[..n].iter().map(|y| f(*x, *y)))),
        (Col::Borrowed(v), Col::Borrowed(w)) => Col::Owned(fill(n, v[..n].iter().zip(&w[..n]).map(|(x, y)| f(*x, *y)))),
    }
}

fn truth(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Rust's `f64::clamp` without its assertion (the checker proves `lo <= hi` where it can; a NaN
/// bound must not panic a worker).
#[inline]
fn clamp(x: f64, lo: f64, hi: f64) -> f64 {
    let mut v = x;
    if v < lo {
        v = lo;
    }
    if v > hi {
        v = hi;
    }
    v
}

/// Evaluates `node` over the batch.
pub fn eval<'a>(node: &Node, fr: &Frame<'a>) -> Col<'a> {
    let n = fr.n;
    match node {
        Node::Const(v) => Col::Scalar(*v),
        Node::Input(i) => Col::Borrowed(&fr.inputs[*i as usize][..n]),
        Node::Var(j) => Col::Borrowed(&fr.vars[*j][..n]),
        Node::Measured => Col::Borrowed(&fr.measured.expect("checked: only in observed and recorded")[..n]),
        Node::Expected => Col::Borrowed(&fr.expected.expect("checked: only in an outcome's value and recorded")[..n]),
        Node::Neg(a) => map1(eval(a, fr), n, |x| -x),
        Node::Not(a) => map1(eval(a, fr), n, |x| truth(x == 0.0)),
        Node::Bin(op, a, b) => {
            let (a, b) = (eval(a, fr), eval(b, fr));
            match op {
                BinOp::Add => map2(a, b, n, |x, y| x + y),
                BinOp::Sub => map2(a, b, n, |x, y| x - y),
                BinOp::Mul => map2(a, b, n, |x, y| x * y),
                BinOp::Div => map2(a, b, n, |x, y| x / y),
                BinOp::Lt => map2(a, b, n, |x, y| truth(x < y)),
                BinOp::Le => map2(a, b, n, |x, y| truth(x <= y)),
                BinOp::Gt => map2(a, b, n, |x, y| truth(x > y)),
                BinOp::Ge => map2(a, b, n, |x, y| truth(x >= y)),
                BinOp::Eq => map2(a, b, n, |x, y| truth(x == y)),
                BinOp::Ne => map2(a, b, n, |x, y| truth(x != y)),
                BinOp::And => map2(a, b, n, |x, y| truth(x != 0.0 && y != 0.0)),
                BinOp::Or => map2(a, b, n, |x, y| truth(x != 0.0 || y != 0.0)),
            }
        }
        Node::If(c, a, b) => {
            let c = eval(c, fr);
            if let Col::Scalar(v) = c {
                return if v != 0.0 { eval(a, fr) } else { eval(b, fr) };
            }
            let (mut a, b) = (eval(a, fr), eval(b, fr));
            match (&mut a, &b) {
                // The common case (`if male then 1.5 else 1`): one pass over the condition.
                (Col::Scalar(x), Col::Scalar(y)) => {
                    let (x, y) = (*x, *y);
                    map1(c, n, |t| if t != 0.0 { x } else { y })
                }
                (Col::Owned(v), b) => {
                    let mut v = std::mem::take(v);
                    v.iter_mut().enumerate().for_each(|(i, x)| {
                        if c.at(i) == 0.0 {
                            *x = b.at(i);
                        }
                    });
                    Col::Owned(v)
                }
                (a, b) => Col::Owned(fill(n, (0..n).map(|i| if c.at(i) != 0.0 { a.at(i) } else { b.at(i) }))),
            }
        }
        Node::F1(f, a) => {
            let a = eval(a, fr);
            match f {
                F1::Sigmoid => map1(a, n, sigmoid),
                F1::Exp => map1(a, n, f64::exp),
                F1::Ln => map1(a, n, f64::ln),
                F1::Sqrt => map1(a, n, f64::sqrt),
                F1::Abs => map1(a, n, f64::abs),
                F1::Round => map1(a, n, f64::round),
                F1::Floor => map1(a, n, f64::floor),
                F1::Ceil => map1(a, n, f64::ceil),
            }
        }
        Node::Min(a, b) => map2(eval(a, fr), eval(b, fr), n, f64::min),
        Node::Max(a, b) => map2(eval(a, fr), eval(b, fr), n, f64::max),
        Node::Pow(a, b) => match **b {
            Node::Const(e) if e.fract() == 0.0 && e.abs() <= 64.0 => map1(eval(a, fr), n, |x| x.powi(e as i32)),
            _ => map2(eval(a, fr), eval(b, fr), n, f64::powf),
        },
        Node::Clamp(x, lo, hi) => {
            let (x, lo, hi) = (eval(x, fr), eval(lo, fr), eval(hi, fr));
            match (&lo, &hi) {
                (Col::Scalar(l), Col::Scalar(h)) => {
                    let (l, h) = (*l, *h);
                    map1(x, n, |v| clamp(v, l, h))
                }
                _ => Col::Owned(fill(n, (0..n).map(|i| clamp(x.at(i), lo.at(i), hi.at(i))))),
            }
        }
        Node::Draw(kind, s, k) => {
            let r = &fr.rngs[..n];
            Col::Owned(match kind {
                DrawKind::Uniform => fill(n, r.iter().map(|g| g.uniform_stream(*s, *k))),
                DrawKind::Normal => fill(n, r.iter().map(|g| g.normal_stream(*s, *k))),
            })
        }
        Node::Bernoulli(s, k, p) => {
            let p = eval(p, fr);
            Col::Owned(fill(
                n,
                fr.rngs[..n]
                    .iter()
                    .enumerate()
                    .map(|(i, g)| truth(g.uniform_stream(*s, *k) < p.at(i))),
            ))
        }
        Node::Poisson(s, k, l) => {
            let l = eval(l, fr);
            Col::Owned(fill(
                n,
                fr.rngs[..n]
                    .iter()
                    .enumerate()
                    .map(|(i, g)| f64::from(poisson_inv(g.uniform_stream(*s, *k), l.at(i)))),
            ))
        }
        Node::Categorical(s, k, weights) => {
            let w: Vec<Col<'a>> = weights.iter().map(|w| eval(w, fr)).collect();
            let last = w.len().saturating_sub(1) as f64;
            let mut total = vec![0.0; n];
            for c in &w {
                match c {
                    Col::Scalar(v) => total.iter_mut().for_each(|t| *t += v),
                    Col::Owned(v) => total.iter_mut().zip(v).for_each(|(t, v)| *t += v),
                    Col::Borrowed(v) => total.iter_mut().zip(*v).for_each(|(t, v)| *t += v),
                }
            }
            Col::Owned(
                (0..n)
                    .map(|i| {
                        let u = fr.rngs[i].uniform_stream(*s, *k);
                        // Sum, then walk the normalised cumulative weights, in the declared order:
                        // the same operations as the Rust scenarios, so ports keep their bytes.
                        let total = total[i];
                        let mut acc = 0.0;
                        for (j, c) in w.iter().enumerate() {
                            acc += c.at(i) / total;
                            if u < acc {
                                return j as f64;
                            }
                        }
                        last
                    })
                    .collect(),
            )
        }
        Node::Lookup(t, key) => {
            let table = &fr.tables[*t];
            map1(eval(key, fr), n, |k| table.get(k as usize).copied().unwrap_or(f64::NAN))
        }
    }
}
