//! One SQL statement with its bound values, as the batched writer (`write_batch`)
//! queues it and the store's own connection (`direct`) runs it.
//!
//! Why a module of its own: both of those use it, and `write_batch` calls `direct`;
//! here it sits below both, so neither imports the other in a circle.

/// One bound value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
    Null,
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Text(s.to_string())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(v)
    }
}

impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Arg {
        v.map_or(Arg::Null, Arg::from)
    }
}

/// One statement with positional (`?`) parameters. Its text should not vary with
/// its input: each distinct text is kept compiled (see `direct`).
#[derive(Clone, Debug)]
pub(crate) struct Stmt {
    pub sql: String,
    pub args: Vec<Arg>,
}

impl Stmt {
    pub fn new(sql: impl Into<String>) -> Stmt {
        Stmt {
            sql: sql.into(),
            args: Vec::new(),
        }
    }

    pub fn arg(mut self, a: impl Into<Arg>) -> Stmt {
        self.args.push(a.into());
        self
    }
}
