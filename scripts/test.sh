#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine with the Rust toolchain:
# installs the real servers the integration tests start (Dovecot, an SMTP
# sink, mbsync, Info-ZIP, tmux, PostgreSQL) when they are missing, then runs every test.
# The tests start and stop their own server instances on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
# dovecot-core alone (the `dovecot` binary) has no IMAP or LMTP server: look
# for the pieces the tests start, not for the master binary.
[ -x /usr/lib/dovecot/imap ] && [ -x /usr/lib/dovecot/imap-login ] || need+=(dovecot-imapd)
[ -x /usr/lib/dovecot/lmtp ] || need+=(dovecot-lmtpd)
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || need+=(python3-aiosmtpd)
command -v mbsync >/dev/null 2>&1 || need+=(isync)
command -v zip >/dev/null 2>&1 || need+=(zip)
# tests/backend_demo.rs runs `concierge demo` in a real terminal
command -v tmux >/dev/null 2>&1 || need+=(tmux)
# tests/store_*.rs start their own PostgreSQL (initdb + pg_ctl)
command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ] \
  || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if ((${#need[@]})); then
  echo "scripts/test.sh: installing ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The benchmarks (examples/) must keep compiling; they are run by hand.
cargo build --locked --examples
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --locked --lib --bins --tests "$@" 2>&1 | tee "$log"
# One closing line for the whole suite.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
