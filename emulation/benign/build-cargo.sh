#!/bin/bash
# vigil-emulation: benign
# technique: T1027.004 Obfuscated Files or Information: Compile After Delivery
# tactic: defense-evasion
# what: a Rust build: `cargo new` of a crate without dependencies, `cargo build
#   --offline` and `cargo test --offline` (rustc, cc and ld writing and running test
#   executables in target/).
# report: nothing: a compiler toolchain building and running its own test binaries.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

export PATH="$PATH:$HOME/.cargo/bin"
emul_need cargo
emul_tmpdir
cd "$EMUL_DIR"
export CARGO_TARGET_DIR=$EMUL_DIR/target CARGO_NET_OFFLINE=true
cargo new -q --vcs none hello
cd hello
printf '\n#[cfg(test)]\nmod tests { #[test] fn adds() { assert_eq!(2 + 2, 4); } }\n' >>src/main.rs
cargo build -q --offline
cargo test -q --offline 2>&1 | tail -2
