//! The expression language of scenario modules: lexer and parser into a syntax tree whose every
//! node knows the bytes of the source it came from, so the checker can name a line and column.
//!
//! ```text
//! expr    = "if" expr "then" expr "else" expr | or
//! or      = and ("or" and)*
//! and     = not ("and" not)*
//! not     = "not" not | cmp
//! cmp     = sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
//! sum     = product (("+" | "-") product)*
//! product = unary (("*" | "/") unary)*
//! unary   = "-" unary | atom
//! atom    = number | "string" | true | false | name | name "(" (expr ("," expr)*)? ")" | "(" expr ")"
//! ```
//!
//! Arithmetic is left-associative and evaluated in f64 exactly as written, which is what lets a
//! module reproduce a Rust implementation's bytes: `a + b - c` is `(a + b) - c` in both.

use std::ops::Range;

/// The longest expression a module may hold (characters); a scenario's longest is under 600.
pub const MAX_EXPR_CHARS: usize = 4096;
/// The deepest nesting of parentheses, calls and prefixes: bounds the parser's recursion.
pub const MAX_DEPTH: usize = 48;
/// The deepest syntax tree of one expression, counting chains like `a + b + c` (left-nested):
/// bounds every later walk of the tree.
pub const MAX_TREE_DEPTH: usize = 64;

/// A node of the syntax tree with the byte range of the expression text it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Range<usize>,
}

/// What a node is.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Num(f64),
    Str(String),
    Bool(bool),
    Name(String),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::And => "and",
            BinOp::Or => "or",
        }
    }
}

/// A syntax error: what was wrong and where (bytes of the expression text).
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Sym(&'static str),
    End,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl Lexer<'_> {
    fn next(&mut self) -> Result<(Tok, Range<usize>), SyntaxError> {
        let bytes = self.src.as_bytes();
        while self.pos < bytes.len() && bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(&b) = bytes.get(self.pos) else {
            return Ok((Tok::End, start..start));
        };
        let err = |message: String, end: usize| SyntaxError {
            message,
            span: start..end,
        };
        if b.is_ascii_digit() || (b == b'.' && bytes.get(self.pos + 1).is_some_and(u8::is_ascii_digit)) {
            while self.pos < bytes.len() && (bytes[self.pos].is_ascii_digit() || bytes[self.pos] == b'.') {
                self.pos += 1;
            }
            if self.pos < bytes.len() && (bytes[self.pos] == b'e' || bytes[self.pos] == b'E') {
                let save = self.pos;
                self.pos += 1;
                if self.pos < bytes.len() && (bytes[self.pos] == b'+' || bytes[self.pos] == b'-') {
                    self.pos += 1;
                }
                if self.pos < bytes.len() && bytes[self.pos].is_ascii_digit() {
                    while self.pos < bytes.len() && bytes[self.pos].is_ascii_digit() {
                        self.pos += 1;
                    }
                } else {
                    self.pos = save;
                }
            }
            let text = &self.src[start..self.pos];
            return match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok((Tok::Num(v), start..self.pos)),
                _ => Err(err(format!("{text:?} is not a finite number"), self.pos)),
            };
        }
        if b.is_ascii_alphabetic() || b == b'_' {
            while self.pos < bytes.len() && (bytes[self.pos].is_ascii_alphanumeric() || bytes[self.pos] == b'_') {
                self.pos += 1;
            }
            return Ok((Tok::Ident(self.src[start..self.pos].to_owned()), start..self.pos));
        }
        if b == b'"' || b == b'\'' {
            let quote = b;
            self.pos += 1;
            let body = self.pos;
            while self.pos < bytes.len() && bytes[self.pos] != quote {
                self.pos += 1;
            }
            if self.pos >= bytes.len() {
                return Err(err(
                    "a text value is not closed: add its closing quote".into(),
                    self.pos,
                ));
            }
            let s = self.src[body..self.pos].to_owned();
            self.pos += 1;
            return Ok((Tok::Str(s), start..self.pos));
        }
        for sym in ["<=", ">=", "==", "!=", "<", ">", "+", "-", "*", "/", "(", ")", ","] {
            if self.src[self.pos..].starts_with(sym) {
                self.pos += sym.len();
                return Ok((Tok::Sym(sym), start..self.pos));
            }
        }
        let c = self.src[start..].chars().next().unwrap_or('?');
        Err(err(
            format!(
                "unexpected character {c:?}; an expression holds numbers, names, \"text\", + - * / < <= > >= == != and parentheses"
            ),
            start + c.len_utf8(),
        ))
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    tok: Tok,
    span: Range<usize>,
    depth: usize,
}

/// Parses one expression.
pub fn parse(src: &str) -> Result<Expr, SyntaxError> {
    if src.chars().count() > MAX_EXPR_CHARS {
        return Err(SyntaxError {
            message: format!("the expression is longer than {MAX_EXPR_CHARS} characters; split it with `define`"),
            span: 0..0,
        });
    }
    let mut lexer = Lexer { src, pos: 0 };
    let (tok, span) = lexer.next()?;
    let mut p = Parser {
        lexer,
        tok,
        span,
        depth: 0,
    };
    let e = p.expr()?;
    if tree_depth(&e) > MAX_TREE_DEPTH {
        return Err(SyntaxError {
            message: format!(
                "the expression is deeper than {MAX_TREE_DEPTH} levels (a chain of operators counts each one); split it with `define`"
            ),
            span: e.span.clone(),
        });
    }
    if p.tok != Tok::End {
        return Err(SyntaxError {
            message: format!("unexpected {} after a complete expression", describe(&p.tok)),
            span: p.span.clone(),
        });
    }
    Ok(e)
}

/// The depth of a tree, without recursion (a tree this measures may be too deep to recurse on).
fn tree_depth(e: &Expr) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(e, 1usize)];
    while let Some((e, d)) = stack.pop() {
        deepest = deepest.max(d);
        match &e.kind {
            ExprKind::Num(_) | ExprKind::Str(_) | ExprKind::Bool(_) | ExprKind::Name(_) => {}
            ExprKind::Neg(a) | ExprKind::Not(a) => stack.push((a, d + 1)),
            ExprKind::Binary(_, a, b) => stack.extend([(&**a, d + 1), (&**b, d + 1)]),
            ExprKind::If(a, b, c) => stack.extend([(&**a, d + 1), (&**b, d + 1), (&**c, d + 1)]),
            ExprKind::Call(_, args) => stack.extend(args.iter().map(|a| (a, d + 1))),
        }
    }
    deepest
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(v) => format!("number {v}"),
        Tok::Str(s) => format!("text {s:?}"),
        Tok::Ident(s) => format!("name {s:?}"),
        Tok::Sym(s) => format!("{s:?}"),
        Tok::End => "end of the expression".into(),
    }
}

impl Parser<'_> {
    fn bump(&mut self) -> Result<(Tok, Range<usize>), SyntaxError> {
        let (tok, span) = self.lexer.next()?;
        Ok((
            std::mem::replace(&mut self.tok, tok),
            std::mem::replace(&mut self.span, span),
        ))
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(&self.tok, Tok::Ident(s) if s == w)
    }

    fn expect_word(&mut self, w: &str, why: &str) -> Result<(), SyntaxError> {
        if self.is_word(w) {
            self.bump()?;
            Ok(())
        } else {
            Err(SyntaxError {
                message: format!("expected `{w}` {why}, found {}", describe(&self.tok)),
                span: self.span.clone(),
            })
        }
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SyntaxError {
                message: format!("the expression nests deeper than {MAX_DEPTH} levels"),
                span: self.span.clone(),
            });
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        self.enter()?;
        let e = if self.is_word("if") {
            let start = self.span.start;
            self.bump()?;
            let c = self.expr()?;
            self.expect_word("then", "after the condition of `if`")?;
            let a = self.expr()?;
            self.expect_word("else", "after `if … then …` (every `if` needs an `else`)")?;
            let b = self.expr()?;
            let end = b.span.end;
            Expr {
                kind: ExprKind::If(Box::new(c), Box::new(a), Box::new(b)),
                span: start..end,
            }
        } else {
            self.or()?
        };
        self.depth -= 1;
        Ok(e)
    }

    fn binary(l: Expr, op: BinOp, r: Expr) -> Expr {
        let span = l.span.start..r.span.end;
        Expr {
            kind: ExprKind::Binary(op, Box::new(l), Box::new(r)),
            span,
        }
    }

    fn or(&mut self) -> Result<Expr, SyntaxError> {
        let mut l = self.and()?;
        while self.is_word("or") {
            self.bump()?;
            let r = self.and()?;
            l = Self::binary(l, BinOp::Or, r);
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, SyntaxError> {
        let mut l = self.not()?;
        while self.is_word("and") {
            self.bump()?;
            let r = self.not()?;
            l = Self::binary(l, BinOp::And, r);
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<Expr, SyntaxError> {
        if self.is_word("not") {
            self.enter()?;
            let start = self.span.start;
            self.bump()?;
            let e = self.not()?;
            self.depth -= 1;
            let end = e.span.end;
            return Ok(Expr {
                kind: ExprKind::Not(Box::new(e)),
                span: start..end,
            });
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, SyntaxError> {
        let l = self.sum()?;
        let op = match &self.tok {
            Tok::Sym("<") => BinOp::Lt,
            Tok::Sym("<=") => BinOp::Le,
            Tok::Sym(">") => BinOp::Gt,
            Tok::Sym(">=") => BinOp::Ge,
            Tok::Sym("==") => BinOp::Eq,
            Tok::Sym("!=") => BinOp::Ne,
            _ => return Ok(l),
        };
        self.bump()?;
        let r = self.sum()?;
        if matches!(&self.tok, Tok::Sym("<" | "<=" | ">" | ">=" | "==" | "!=")) {
            return Err(SyntaxError {
                message: "comparisons do not chain: write `a < b and b < c`".into(),
                span: self.span.clone(),
            });
        }
        Ok(Self::binary(l, op, r))
    }

    fn sum(&mut self) -> Result<Expr, SyntaxError> {
        let mut l = self.product()?;
        loop {
            let op = match &self.tok {
                Tok::Sym("+") => BinOp::Add,
                Tok::Sym("-") => BinOp::Sub,
                _ => return Ok(l),
            };
            self.bump()?;
            let r = self.product()?;
            l = Self::binary(l, op, r);
        }
    }

    fn product(&mut self) -> Result<Expr, SyntaxError> {
        let mut l = self.unary()?;
        loop {
            let op = match &self.tok {
                Tok::Sym("*") => BinOp::Mul,
                Tok::Sym("/") => BinOp::Div,
                _ => return Ok(l),
            };
            self.bump()?;
            let r = self.unary()?;
            l = Self::binary(l, op, r);
        }
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        if self.tok == Tok::Sym("-") {
            self.enter()?;
            let start = self.span.start;
            self.bump()?;
            let e = self.unary()?;
            self.depth -= 1;
            let end = e.span.end;
            // A negative literal is a literal (so `-0.9` is the number, as Rust reads it).
            if let ExprKind::Num(v) = e.kind {
                return Ok(Expr {
                    kind: ExprKind::Num(-v),
                    span: start..end,
                });
            }
            return Ok(Expr {
                kind: ExprKind::Neg(Box::new(e)),
                span: start..end,
            });
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, SyntaxError> {
        let (tok, span) = self.bump()?;
        match tok {
            Tok::Num(v) => Ok(Expr {
                kind: ExprKind::Num(v),
                span,
            }),
            Tok::Str(s) => Ok(Expr {
                kind: ExprKind::Str(s),
                span,
            }),
            Tok::Ident(name) => match name.as_str() {
                "true" | "false" => Ok(Expr {
                    kind: ExprKind::Bool(name == "true"),
                    span,
                }),
                "if" | "then" | "else" | "and" | "or" | "not" => Err(SyntaxError {
                    message: format!("`{name}` is a keyword and cannot stand here"),
                    span,
                }),
                _ if self.tok == Tok::Sym("(") => {
                    self.enter()?;
                    self.bump()?;
                    let mut args = Vec::new();
                    if self.tok != Tok::Sym(")") {
                        loop {
                            args.push(self.expr()?);
                            match &self.tok {
                                Tok::Sym(",") => {
                                    self.bump()?;
                                }
                                Tok::Sym(")") => break,
                                other => {
                                    return Err(SyntaxError {
                                        message: format!(
                                            "expected `,` or `)` in the arguments of {name}(), found {}",
                                            describe(other)
                                        ),
                                        span: self.span.clone(),
                                    });
                                }
                            }
                        }
                    }
                    let end = self.span.end;
                    self.bump()?;
                    self.depth -= 1;
                    Ok(Expr {
                        kind: ExprKind::Call(name, args),
                        span: span.start..end,
                    })
                }
                _ => Ok(Expr {
                    kind: ExprKind::Name(name),
                    span,
                }),
            },
            Tok::Sym("(") => {
                let e = self.expr()?;
                if self.tok != Tok::Sym(")") {
                    return Err(SyntaxError {
                        message: format!("expected `)`, found {}", describe(&self.tok)),
                        span: self.span.clone(),
                    });
                }
                let end = self.span.end;
                self.bump()?;
                Ok(Expr {
                    kind: e.kind,
                    span: span.start..end,
                })
            }
            other => Err(SyntaxError {
                message: format!("expected a number, a name or `(`, found {}", describe(&other)),
                span,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Num(v) => format!("{v}"),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Bool(b) => format!("{b}"),
            ExprKind::Name(n) => n.clone(),
            ExprKind::Neg(a) => format!("(-{})", show(a)),
            ExprKind::Not(a) => format!("(not {})", show(a)),
            ExprKind::Binary(op, a, b) => format!("({} {} {})", show(a), op.symbol(), show(b)),
            ExprKind::If(c, a, b) => format!("(if {} then {} else {})", show(c), show(a), show(b)),
            ExprKind::Call(f, args) => format!("{f}({})", args.iter().map(show).collect::<Vec<_>>().join(", ")),
        }
    }

    #[test]
    fn precedence_and_associativity_follow_rust() {
        let e = parse("1.4 + 0.35 * edu - 0.9 * nw - -1 / 2").unwrap();
        assert_eq!(show(&e), "(((1.4 + (0.35 * edu)) - (0.9 * nw)) - (-1 / 2))");
        let e = parse("if a < 3 and not b or c then -ln(uniform()) * x else 0").unwrap();
        assert_eq!(
            show(&e),
            "(if (((a < 3) and (not b)) or c) then ((-ln(uniform())) * x) else 0)"
        );
        assert_eq!(
            show(&parse("education == \"basic\"").unwrap()),
            "(education == \"basic\")"
        );
    }

    #[test]
    fn errors_point_at_the_bytes() {
        let e = parse("1 + * 2").unwrap_err();
        assert_eq!(e.span, 4..5, "{e:?}");
        let e = parse("a < b < c").unwrap_err();
        assert!(e.message.contains("do not chain"), "{e:?}");
        let e = parse("if a then b").unwrap_err();
        assert!(e.message.contains("else"), "{e:?}");
        let deep = "(".repeat(200) + "1" + &")".repeat(200);
        assert!(parse(&deep).unwrap_err().message.contains("nests deeper"));
        assert!(parse("1e999").unwrap_err().message.contains("finite"));
        assert!(parse("a # b").unwrap_err().message.contains("unexpected character"));
    }
}
