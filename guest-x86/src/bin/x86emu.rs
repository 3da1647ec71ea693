//! `x86emu`: the native front end (user mode arrives with `user/`).
fn main() {
    eprintln!("usage: x86emu --user PROG [ARGS..]");
    std::process::exit(2);
}
