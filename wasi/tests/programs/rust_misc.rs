//! The process side through Rust's std: arguments, environment, stdin,
//! clocks, sleeping, hashing seeded from random bytes, stderr, and the
//! exit status. Prints only what is deterministic.

use std::collections::HashMap;
use std::io::{self, BufRead, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("args: {args:?}");
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    vars.sort();
    println!("vars: {vars:?}");
    println!("var(GREETING): {:?}", std::env::var("GREETING"));
    println!("var(ABSENT): {:?}", std::env::var("ABSENT").is_err());

    let stdin = io::stdin();
    let mut total = 0;
    for line in stdin.lock().lines() {
        let line = line.expect("stdin line");
        total += line.len();
        println!("stdin: {}", line.to_uppercase());
    }
    println!("stdin bytes without newlines: {total}");

    let t0 = Instant::now();
    std::thread::sleep(Duration::from_millis(15));
    let slept = t0.elapsed();
    println!(
        "slept at least 15ms: {}",
        slept >= Duration::from_millis(15)
    );
    println!("slept under 2s: {}", slept < Duration::from_secs(2));
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    println!("after 2020: {}", now.as_secs() > 1_577_836_800);

    // HashMap's RandomState is seeded from the OS (random_get on WASI):
    // two maps hash differently, almost surely.
    let mut a = HashMap::new();
    let mut b = HashMap::new();
    for i in 0..64 {
        a.insert(i, i);
        b.insert(i, i);
    }
    let order_a: Vec<_> = a.keys().copied().collect();
    let order_b: Vec<_> = b.keys().copied().collect();
    println!("random seeds differ: {}", order_a != order_b);

    eprintln!("to stderr: {}", args.len());
    io::stdout().flush().unwrap();
    let code = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(0);
    std::process::exit(code);
}
