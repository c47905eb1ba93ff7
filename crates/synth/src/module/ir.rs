//! The checked form of a module's expressions: typed, names resolved, draws numbered. What the
//! columnar evaluator runs; nothing here can name an unknown variable or mix types.

use super::expr::BinOp;

/// A value of the population the module's expressions may read, as a number (categories by
/// their dictionary index, yes/no as 0/1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Input {
    Age,
    Male,
    Origin,
    NonWestern,
    Education,
    EducationScore,
    ChronicConditions,
    Employment,
    Income,
    Household,
    NChildren,
    LivingAlone,
    HospitalDays,
    Municipality,
    Region,
}

/// One of the random streams of [`crate::rng::RowRng`]: a named variable of the Rust scenarios
/// (for ports that keep their bytes) or a stream of the module's own.
pub type Stream = u32;

/// Draws from a row's random source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DrawKind {
    /// Uniform on (0, 1).
    Uniform,
    /// Standard normal (inverse CDF of one uniform).
    Normal,
}

/// A checked expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Const(f64),
    Input(Input),
    /// The true value of the module variable with this index.
    Var(usize),
    /// The truth after measurement bias (in an `observed` expression), or the true outcome (as
    /// `truth` in a numeric outcome's `recorded`).
    Measured,
    /// A numeric outcome's expected value (as `expected` in its `value` and `recorded`).
    Expected,
    Neg(Box<Node>),
    Not(Box<Node>),
    Bin(BinOp, Box<Node>, Box<Node>),
    If(Box<Node>, Box<Node>, Box<Node>),
    F1(F1, Box<Node>),
    Min(Box<Node>, Box<Node>),
    Max(Box<Node>, Box<Node>),
    Pow(Box<Node>, Box<Node>),
    Clamp(Box<Node>, Box<Node>, Box<Node>),
    Draw(DrawKind, Stream, u32),
    Bernoulli(Stream, u32, Box<Node>),
    Poisson(Stream, u32, Box<Node>),
    /// A category drawn with weights (one node per value), as its index.
    Categorical(Stream, u32, Vec<Node>),
    /// `table[index]` where the node is a category index.
    Lookup(usize, Box<Node>),
}

/// Functions of one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum F1 {
    Sigmoid,
    Exp,
    Ln,
    Sqrt,
    Abs,
    Round,
    Floor,
    Ceil,
}

impl Node {
    /// Every population input this expression reads.
    pub fn inputs(&self, out: &mut Vec<Input>) {
        match self {
            Node::Input(i) => out.push(*i),
            Node::Const(_) | Node::Var(_) | Node::Measured | Node::Expected | Node::Draw(..) => {}
            Node::Neg(a) | Node::Not(a) | Node::F1(_, a) | Node::Lookup(_, a) => a.inputs(out),
            Node::Bernoulli(_, _, a) | Node::Poisson(_, _, a) => a.inputs(out),
            Node::Bin(_, a, b) | Node::Min(a, b) | Node::Max(a, b) | Node::Pow(a, b) => {
                a.inputs(out);
                b.inputs(out);
            }
            Node::If(a, b, c) | Node::Clamp(a, b, c) => {
                a.inputs(out);
                b.inputs(out);
                c.inputs(out);
            }
            Node::Categorical(_, _, w) => w.iter().for_each(|n| n.inputs(out)),
        }
    }
}
