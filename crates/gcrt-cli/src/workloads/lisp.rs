//! A small Lisp interpreter on `gcrt::objects`, a real client of the library: environments
//! are instances holding a dict of variables and their parent, closures are instances
//! holding their parameters, body and environment. A function defined inside another one
//! is stored in the environment it captures, so every call that defines one leaves a
//! cycle (environment -> dict -> closure -> environment) for the collector, as inner
//! functions do in Python and Scheme.
//!
//! The language: integers, symbols, `(define name expr)`, `(define (name params..) body..)`,
//! `(lambda (params..) body..)`, `(if c a b)`, `(begin ..)`, `(set! name expr)`,
//! `(repeat n thunk)` (calls `thunk` n times, for loops without deep recursion), and the
//! built-ins `+ - * < =`.
//!
//! This file is also `examples/interpreter.rs`'s interpreter.

use gcrt::objects::{Error, Value};

/// The interpreter's result.
pub(crate) type Result<T> = core::result::Result<T, String>;

fn err(e: Error) -> String {
    e.to_string()
}

/// Reads a program: its top-level expressions, as nested tuples of ints and symbols
/// (interned strings).
pub(crate) fn parse(src: &str) -> Result<Vec<Value>> {
    let spaced = src.replace('(', " ( ").replace(')', " ) ");
    let mut tokens = spaced.split_whitespace().peekable();
    let mut out = Vec::new();
    while tokens.peek().is_some() {
        out.push(read(&mut tokens)?);
    }
    Ok(out)
}

fn read<'a>(tokens: &mut core::iter::Peekable<impl Iterator<Item = &'a str>>) -> Result<Value> {
    match tokens.next() {
        None => Err("unexpected end of program".into()),
        Some(")") => Err("unexpected ')'".into()),
        Some("(") => {
            let mut items = Vec::new();
            while tokens.peek() != Some(&")") {
                items.push(read(tokens)?);
            }
            tokens.next();
            Ok(Value::tuple(items))
        }
        Some(atom) => Ok(match atom.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::interned(atom),
        }),
    }
}

/// The interpreter: the two classes and the global environment.
pub(crate) struct Interpreter {
    env_class: Value,
    closure_class: Value,
    global: Value,
}

impl Default for Interpreter {
    fn default() -> Interpreter {
        Interpreter::new()
    }
}

impl Interpreter {
    /// An interpreter with an empty global environment.
    pub(crate) fn new() -> Interpreter {
        let env_class = Value::class("Env");
        let closure_class = Value::class("Closure");
        let global = new_env(&env_class, Value::none()).expect("a fresh class instantiates");
        Interpreter {
            env_class,
            closure_class,
            global,
        }
    }

    /// Runs a program; returns the value of its last expression.
    pub(crate) fn run(&self, src: &str) -> Result<Value> {
        let mut last = Value::none();
        for expr in parse(src)? {
            last = self.eval(&expr, &self.global)?;
        }
        Ok(last)
    }

    fn eval(&self, expr: &Value, env: &Value) -> Result<Value> {
        match expr {
            Value::Str(_) => lookup(env, expr),
            Value::Tuple(_) => self.eval_form(&expr.to_vec().map_err(err)?, env),
            other => Ok(other.clone()),
        }
    }

    fn eval_form(&self, form: &[Value], env: &Value) -> Result<Value> {
        let Some(head) = form.first() else {
            return Ok(Value::none());
        };
        match head.as_str() {
            Some("define") => self.define(form, env),
            Some("lambda") => self.closure(&form[1], &form[2..], env),
            Some("if") => {
                let test = self.eval(form.get(1).ok_or("if without a test")?, env)?;
                let branch = if test.truthy() {
                    form.get(2)
                } else {
                    form.get(3)
                };
                branch.map_or(Ok(Value::none()), |b| self.eval(b, env))
            }
            Some("begin") => self.body(&form[1..], env),
            Some("set!") => {
                let value = self.eval(form.get(2).ok_or("set! without a value")?, env)?;
                assign(env, &form[1], value)?;
                Ok(Value::none())
            }
            Some("repeat") => {
                let n = self
                    .eval(&form[1], env)?
                    .as_i64()
                    .ok_or("repeat needs a count")?;
                let thunk = self.eval(&form[2], env)?;
                let mut last = Value::none();
                for _ in 0..n {
                    last = self.apply(&thunk, &[])?;
                }
                Ok(last)
            }
            Some(op @ ("+" | "-" | "*" | "<" | "=")) => {
                let a = self.eval(form.get(1).ok_or("missing operand")?, env)?;
                let b = self.eval(form.get(2).ok_or("missing operand")?, env)?;
                Ok(match op {
                    "+" => a.add(&b).map_err(err)?,
                    "-" => a.sub(&b).map_err(err)?,
                    "*" => a.mul(&b).map_err(err)?,
                    "<" => Value::from(a.compare(gcrt::objects::CmpOp::Lt, &b).map_err(err)?),
                    _ => Value::from(a.equals(&b).map_err(err)?),
                })
            }
            _ => {
                let f = self.eval(head, env)?;
                let args = form[1..]
                    .iter()
                    .map(|a| self.eval(a, env))
                    .collect::<Result<Vec<_>>>()?;
                self.apply(&f, &args)
            }
        }
    }

    /// `(define name expr)` or `(define (name params..) body..)`.
    fn define(&self, form: &[Value], env: &Value) -> Result<Value> {
        let target = form.get(1).ok_or("define without a name")?;
        let (name, value) = match target {
            Value::Tuple(_) => {
                let sig = target.to_vec().map_err(err)?;
                let params = Value::tuple(sig[1..].iter().cloned());
                (sig[0].clone(), self.closure(&params, &form[2..], env)?)
            }
            name => (
                name.clone(),
                self.eval(form.get(2).ok_or("define without a value")?, env)?,
            ),
        };
        vars(env)?.set_item(name, value).map_err(err)?;
        Ok(Value::none())
    }

    fn closure(&self, params: &Value, body: &[Value], env: &Value) -> Result<Value> {
        let c = self.closure_class.instantiate().map_err(err)?;
        c.set_attr("params", params.clone()).map_err(err)?;
        c.set_attr("body", Value::tuple(body.iter().cloned()))
            .map_err(err)?;
        c.set_attr("env", env.clone()).map_err(err)?;
        Ok(c)
    }

    fn apply(&self, f: &Value, args: &[Value]) -> Result<Value> {
        let params = f
            .get_attr("params")
            .map_err(|_| format!("not a function: {f:?}"))?;
        let params = params.to_vec().map_err(err)?;
        if params.len() != args.len() {
            return Err(format!(
                "expected {} arguments, got {}",
                params.len(),
                args.len()
            ));
        }
        let env = new_env(&self.env_class, f.get_attr("env").map_err(err)?)?;
        let local = vars(&env)?;
        for (p, a) in params.into_iter().zip(args) {
            local.set_item(p, a.clone()).map_err(err)?;
        }
        let body = f.get_attr("body").map_err(err)?.to_vec().map_err(err)?;
        self.body(&body, &env)
    }

    fn body(&self, exprs: &[Value], env: &Value) -> Result<Value> {
        let mut last = Value::none();
        for e in exprs {
            last = self.eval(e, env)?;
        }
        Ok(last)
    }
}

fn new_env(class: &Value, parent: Value) -> Result<Value> {
    let env = class.instantiate().map_err(err)?;
    env.set_attr("vars", Value::dict()).map_err(err)?;
    env.set_attr("parent", parent).map_err(err)?;
    Ok(env)
}

fn vars(env: &Value) -> Result<Value> {
    env.get_attr("vars").map_err(err)
}

/// The environment, from `env` outwards, that defines `name`.
fn defining(env: &Value, name: &Value) -> Result<Value> {
    let mut e = env.clone();
    loop {
        if vars(&e)?.contains(name).map_err(err)? {
            return Ok(e);
        }
        e = e.get_attr("parent").map_err(err)?;
        if matches!(e, Value::None) {
            return Err(format!("undefined: {name}"));
        }
    }
}

fn lookup(env: &Value, name: &Value) -> Result<Value> {
    vars(&defining(env, name)?)?.get_item(name).map_err(err)
}

fn assign(env: &Value, name: &Value, value: Value) -> Result<()> {
    vars(&defining(env, name)?)?
        .set_item(name.clone(), value)
        .map_err(err)
}

/// The program the `interpreter` workload runs: recursive calls, and closures that define
/// inner functions (each call leaves an environment cycle behind).
pub(crate) fn workload_program(iterations: u64) -> String {
    format!(
        "(define (fib n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))
         (define (make-counter)
           (define count 0)
           (define (step) (set! count (+ count 1)) count)
           step)
         (define total 0)
         (repeat {iterations} (lambda ()
           (define c (make-counter))
           (c) (c)
           (set! total (+ total (+ (c) (fib 5))))))
         total"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_compute_and_their_cycles_are_collected() {
        gcrt::gc::collect();
        let interp = Interpreter::new();
        assert_eq!(interp.run("(+ 1 (* 2 3))").unwrap(), Value::from(7));
        assert_eq!(
            interp.run("(define (sq x) (* x x)) (sq 12)").unwrap(),
            Value::from(144)
        );
        let total = interp.run(&workload_program(100)).unwrap();
        assert_eq!(total, Value::from(100 * (3 + 5)));
        assert!(
            interp
                .run("(undefined-thing)")
                .unwrap_err()
                .contains("undefined")
        );
        assert!(interp.run("(1 2)").unwrap_err().contains("not a function"));
        assert!(parse("(+ 1").is_err());
        drop(interp);
        // Each make-counter call left env -> dict -> step -> env behind.
        assert!(gcrt::gc::collect() >= 100 * 3);
    }
}
