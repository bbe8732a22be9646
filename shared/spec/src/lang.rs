//! The expression language: jq, as jaq implements it, minus everything that could loop, read
//! the clock or the environment, or do float arithmetic on money. [`check`] is the static part
//! (run at `validate` and `push`); the compiled program has no `def` of the author's own except
//! the spec's `functions`, each calling only earlier ones.
//!
//! Why a check and not a fuel counter: jaq evaluates lazily through iterators and offers no step
//! hook. With no recursion (`def` only in `functions`, no self or forward call), no unbounded
//! generator (`range`, `repeat`, `while`, `until`, `recurse(f)`, `limit` of those) and no `*`
//! (string repetition), every expression runs in time polynomial in its input; the input is an
//! order (bounded by the webhook's body limit) and results are capped in size
//! ([`crate::compiled::MAX_RESULT_BYTES`]).

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Pattern, Term};
use jaq_core::ops::{Cmp, Math};
use jaq_core::path::Part;

use crate::shape::Shape;

/// Names an expression may not call, and why.
pub const FORBIDDEN: &[(&str, &str)] = &[
    ("range", "an unbounded generator"),
    ("repeat", "an unbounded loop"),
    ("while", "an unbounded loop"),
    ("until", "an unbounded loop"),
    ("recurse", "an unbounded loop (use `..` to walk a document)"),
    ("combinations", "exponential in its input"),
    ("env", "reads the environment"),
    ("now", "reads the clock"),
    ("input", "reads input"),
    ("inputs", "reads input"),
    ("input_filename", "reads input"),
    ("halt", "stops the process"),
    ("halt_error", "stops the process"),
    ("debug", "writes to the log"),
    ("stderr", "writes to the log"),
    (
        "tonumber",
        "turns text into a float (use num for an exact JSON number)",
    ),
    ("infinite", "a float"),
    ("nan", "a float"),
];

/// Functions whose arguments run on the same input as the call.
const ON_INPUT: &[&str] = &[
    "select",
    "lookup",
    "money_add",
    "money_sub",
    "money_mul",
    "money_convert",
    "money_fx",
    "fx_rate",
    "phone_e164",
    "money_text",
    "to_minor",
    "from_minor",
    "has",
    "contains",
    "inside",
    "startswith",
    "endswith",
    "ltrimstr",
    "rtrimstr",
    "split",
    "join",
    "test",
    "match",
    "capture",
    "sub",
    "gsub",
    "index",
    "rindex",
    "indices",
    "error",
    "strftime",
    "strptime",
    "if",
    "limit",
    "first",
    "last",
    "isempty",
    "add",
];
/// Functions whose arguments run on each element of an array input.
const ON_ELEMENT: &[&str] = &[
    "map",
    "sort_by",
    "group_by",
    "unique_by",
    "min_by",
    "max_by",
    "any",
    "all",
];

/// Variables an expression may not read.
const FORBIDDEN_VARS: &[&str] = &["$ENV", "$__loc__"];

/// What is wrong with an expression, given the shape of its input; empty when fine.
/// `functions` are the spec's helper names (callable).
pub fn check(term: &Term<&str>, input: &Shape) -> Vec<String> {
    let mut c = Checker {
        problems: Vec::new(),
        vars: Vec::new(),
    };
    c.shape(term, input);
    c.problems.sort();
    c.problems.dedup();
    c.problems
}

/// Parse an expression; a syntax error as a message naming the line and column inside it.
pub fn parse(code: &str) -> Result<Term<&str>, String> {
    if let Some(t) = jaq_core::load::parse(code, |p| p.term()) {
        return Ok(t);
    }
    Err(syntax_error(code))
}

pub(crate) fn syntax_error(code: &str) -> String {
    use jaq_core::load::{Arena, Error, File, Loader};
    let arena = Arena::default();
    let loader = Loader::new(std::iter::empty());
    let Err(errs) = loader.load(&arena, File { code, path: () }) else {
        return "not a single expression (a `def` or module directive?)".into();
    };
    let mut out = Vec::new();
    for (_, e) in errs {
        match e {
            Error::Lex(es) => {
                for (expect, found) in es {
                    out.push(format!(
                        "{}: expected {}",
                        position(code, found),
                        lex_expect(&expect)
                    ));
                }
            }
            Error::Parse(es) => {
                for (expect, found) in es {
                    let shown = if found.is_empty() {
                        "end of expression".to_string()
                    } else {
                        format!("`{}`", found.chars().take(20).collect::<String>())
                    };
                    out.push(format!(
                        "{}: expected {}, found {shown}",
                        position(code, found),
                        expect.as_str()
                    ));
                }
            }
            Error::Io(es) => out.extend(es.into_iter().map(|(_, m)| m)),
        }
    }
    out.dedup();
    if out.is_empty() {
        "syntax error".into()
    } else {
        format!("syntax error {}", out.join("; "))
    }
}

fn lex_expect(e: &jaq_core::load::lex::Expect<&str>) -> String {
    use jaq_core::load::lex::Expect as E;
    match e {
        E::Delim("(") | E::Delim("\\(") => "a closing parenthesis".into(),
        E::Delim("[") => "a closing bracket".into(),
        E::Delim("{") => "a closing brace".into(),
        E::Delim("\"") => "a closing quote".into(),
        E::Delim(other) => format!("the end of `{other}`"),
        E::Digit => "a digit".into(),
        E::Ident => "a name".into(),
        E::Escape => "a string escape sequence".into(),
        E::Unicode => "a 4-digit hexadecimal code point".into(),
        _ => "a token".into(),
    }
}

/// `line L, column C` of a slice of `code`.
fn position(code: &str, part: &str) -> String {
    let start = (part.as_ptr() as usize)
        .checked_sub(code.as_ptr() as usize)
        .filter(|s| *s <= code.len())
        .unwrap_or(0);
    let before = &code[..start];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    format!("at line {line}, column {col}")
}

struct Checker {
    problems: Vec<String>,
    /// Shapes bound to `$names` by `as`.
    vars: Vec<(String, Shape)>,
}

impl Checker {
    fn err(&mut self, m: impl Into<String>) {
        self.problems.push(m.into());
    }

    /// The shape of `t`'s output for input `cur`, reporting what is wrong on the way.
    fn shape(&mut self, t: &Term<&str>, cur: &Shape) -> Shape {
        match t {
            Term::Id => cur.clone(),
            Term::Recurse => Shape::Any,
            Term::Num(n) => {
                if n.contains(['.', 'e', 'E']) {
                    self.err(format!(
                        "number literal {n} is a float: write amounts as strings (\"{n}\") and use the money functions"
                    ));
                }
                Shape::Scalar
            }
            Term::Str(_, parts) => {
                for p in parts {
                    if let StrPart::Term(t) = p {
                        self.shape(t, cur);
                    }
                }
                Shape::Scalar
            }
            Term::Arr(a) => {
                let inner = a.as_ref().map(|t| self.shape(t, cur)).unwrap_or(Shape::Any);
                Shape::Arr(Box::new(inner))
            }
            Term::Obj(kvs) => {
                for (k, v) in kvs {
                    match k {
                        Term::Str(None, _) => {}
                        Term::Var(name) if v.is_none() => {
                            self.var(name);
                        }
                        other => {
                            self.shape(other, cur);
                        }
                    }
                    if let Some(v) = v {
                        self.shape(v, cur);
                    } else if let Term::Str(None, parts) = k {
                        // `{a}` is `{a: .a}`
                        if let [StrPart::Str(key)] = &parts[..] {
                            self.field(cur, key, &format!(".{key}"));
                        }
                    }
                }
                Shape::Any
            }
            Term::Neg(t) => {
                let s = self.shape(t, cur);
                self.no_money(&s, "negation");
                Shape::Scalar
            }
            Term::BinOp(l, op, r) => self.binop(l, op, r, cur),
            Term::Label(_, t) => self.shape(t, cur),
            Term::Break(_) => Shape::Any,
            Term::Fold(_, xs, pat, args) => {
                let xs_shape = self.shape(xs, cur);
                let n = self.bind(pat, &xs_shape);
                for a in args {
                    self.shape(a, &Shape::Any);
                }
                self.vars.truncate(self.vars.len() - n);
                Shape::Any
            }
            Term::TryCatch(t, c) => {
                let s = self.shape(t, cur);
                if let Some(c) = c {
                    self.shape(c, &Shape::Scalar);
                }
                s
            }
            Term::IfThenElse(branches, els) => {
                let mut out = None;
                for (cond, then) in branches {
                    self.shape(cond, cur);
                    out = Some(self.shape(then, cur));
                }
                if let Some(e) = els {
                    self.shape(e, cur);
                }
                out.unwrap_or(Shape::Any)
            }
            Term::Def(..) => {
                self.err("defining a function inside an expression is not allowed: add it to the spec's `functions`");
                Shape::Any
            }
            Term::Call(name, args) => self.call(name, args, cur),
            Term::Var(v) => self.var(v),
            Term::Path(t, path) => {
                let mut s = self.shape(t, cur);
                let mut shown = String::new();
                for (part, _) in &path.0 {
                    s = match part {
                        Part::Index(Term::Str(None, parts)) => match &parts[..] {
                            [StrPart::Str(key)] => {
                                shown.push('.');
                                shown.push_str(key);
                                self.field(&s, key, &shown)
                            }
                            _ => Shape::Any,
                        },
                        Part::Index(i) => {
                            self.shape(i, cur);
                            match s {
                                Shape::Arr(inner) => *inner,
                                _ => Shape::Any,
                            }
                        }
                        Part::Range(a, b) => {
                            for x in [a, b].into_iter().flatten() {
                                self.shape(x, cur);
                            }
                            shown.push_str("[]");
                            match s {
                                Shape::Arr(inner) if a.is_none() && b.is_none() => *inner,
                                Shape::Arr(inner) => Shape::Arr(inner),
                                _ => Shape::Any,
                            }
                        }
                    };
                }
                s
            }
        }
    }

    fn field(&mut self, s: &Shape, key: &str, shown: &str) -> Shape {
        match s {
            Shape::Obj { fields, open } => match fields.get(key) {
                Some(f) => f.clone(),
                None if *open => Shape::Any,
                None => {
                    let known: Vec<&str> = fields.keys().map(String::as_str).collect();
                    self.err(format!(
                        "unknown source field `{shown}` (known here: {})",
                        known.join(", ")
                    ));
                    Shape::Any
                }
            },
            Shape::Money | Shape::Scalar => {
                self.err(format!("`{shown}`: cannot take a field of a value"));
                Shape::Any
            }
            _ => Shape::Any,
        }
    }

    fn var(&mut self, v: &str) -> Shape {
        if FORBIDDEN_VARS.contains(&v) {
            self.err(format!("`{v}` is not available to a spec"));
            return Shape::Any;
        }
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == v)
            .map(|(_, s)| s.clone())
            .unwrap_or(Shape::Any)
    }

    /// Bind a pattern's variables; how many were pushed.
    fn bind(&mut self, p: &Pattern<&str>, s: &Shape) -> usize {
        match p {
            Pattern::Var(v) => {
                self.vars.push(((*v).to_string(), s.clone()));
                1
            }
            Pattern::Arr(ps) => ps.iter().map(|p| self.bind(p, &Shape::Any)).sum(),
            Pattern::Obj(kps) => kps.iter().map(|(_, p)| self.bind(p, &Shape::Any)).sum(),
        }
    }

    fn no_money(&mut self, s: &Shape, what: &str) {
        if matches!(s, Shape::Money) {
            self.err(format!(
                "{what} on an amount: amounts are exact decimal strings; use money_add, money_sub, money_mul, to_minor or the *_minor fields"
            ));
        }
    }

    fn binop(&mut self, l: &Term<&str>, op: &BinaryOp<&str>, r: &Term<&str>, cur: &Shape) -> Shape {
        match op {
            BinaryOp::Pipe(None) => {
                let ls = self.shape(l, cur);
                self.shape(r, &ls)
            }
            BinaryOp::Pipe(Some(pat)) => {
                let ls = self.shape(l, cur);
                let n = self.bind(pat, &ls);
                let out = self.shape(r, cur);
                self.vars.truncate(self.vars.len() - n);
                out
            }
            BinaryOp::Math(m) => {
                let (ls, rs) = (self.shape(l, cur), self.shape(r, cur));
                match m {
                    Math::Mul | Math::Div | Math::Rem => self.err(
                        "`*`, `/` and `%` are not allowed: use money_mul for amounts, a lookup for tables",
                    ),
                    Math::Add | Math::Sub => {
                        self.no_money(&ls, "arithmetic");
                        self.no_money(&rs, "arithmetic");
                    }
                }
                Shape::Scalar
            }
            BinaryOp::Cmp(c) => {
                let (ls, rs) = (self.shape(l, cur), self.shape(r, cur));
                if !matches!(c, Cmp::Eq | Cmp::Ne) {
                    self.no_money(&ls, "comparison");
                    self.no_money(&rs, "comparison");
                }
                Shape::Scalar
            }
            BinaryOp::UpdateMath(_) => {
                self.shape(l, cur);
                self.shape(r, cur);
                self.err("`+=`-style updates are not allowed in a spec");
                Shape::Any
            }
            BinaryOp::Comma | BinaryOp::Alt => {
                let ls = self.shape(l, cur);
                let rs = self.shape(r, cur);
                if ls == rs {
                    ls
                } else {
                    Shape::Any
                }
            }
            BinaryOp::Or | BinaryOp::And => {
                self.shape(l, cur);
                self.shape(r, cur);
                Shape::Scalar
            }
            BinaryOp::Assign | BinaryOp::Update | BinaryOp::UpdateAlt => {
                let ls = self.shape(l, cur);
                self.shape(r, &ls);
                cur.clone()
            }
        }
    }

    fn call(&mut self, name: &str, args: &[Term<&str>], cur: &Shape) -> Shape {
        if let Some((_, why)) = FORBIDDEN.iter().find(|(n, _)| *n == name) {
            if !(name == "recurse" && args.is_empty()) {
                self.err(format!("`{name}` is not allowed: {why}"));
            }
        }
        if matches!(name, "tostring" | "ascii_downcase" | "ascii_upcase") {
            return Shape::Scalar;
        }
        // Arguments run on the input (`$x`-style and `select`), on each element (`map`, the
        // `*_by` family, `any`/`all`), or on something the checker cannot follow.
        let element = match cur {
            Shape::Arr(inner) => (**inner).clone(),
            _ => Shape::Any,
        };
        let arg_input = if ON_INPUT.contains(&name) {
            cur.clone()
        } else if ON_ELEMENT.contains(&name) {
            element
        } else {
            Shape::Any
        };
        for a in args {
            self.shape(a, &arg_input);
        }
        match name {
            "map" => Shape::Arr(Box::new(Shape::Any)),
            "select" | "sort" | "sort_by" | "unique" | "unique_by" | "reverse" | "first"
            | "last" => cur.clone(),
            "num" | "to_minor" | "length" | "not" | "has" | "test" | "startswith" | "endswith" => {
                Shape::Scalar
            }
            "money_add" | "money_sub" | "money_mul" | "from_minor" | "money_convert"
            | "money_fx" => Shape::Money,
            _ => Shape::Any,
        }
    }
}
