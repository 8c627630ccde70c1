#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine with the Rust toolchain:
# installs the real servers the integration tests start (Dovecot, Cyrus IMAP, Courier-IMAP,
# an SMTP sink, mbsync, Info-ZIP, tmux, PostgreSQL) when they are missing, then runs every test.
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
# Cyrus checks passwords against a sasldb that saslpasswd2 writes
[ -x /usr/sbin/saslpasswd2 ] || need+=(sasl2-bin)
# tests/store_*.rs start their own PostgreSQL (initdb + pg_ctl)
command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ] \
  || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# Cyrus IMAP 3.6, the second IMAP server the tests start
# (crates/test-support/src/cyrus.rs). Its package conflicts with dovecot-imapd, so it is
# unpacked (dpkg -x) instead of installed; only the libraries it links are
# installed.
for lib in libpcre3 libxapian30 libical3; do
  dpkg-query -W -f='${Status}' "$lib" 2>/dev/null | grep -q 'ok installed' || need+=("$lib")
done
# Courier-IMAP 5.0, the third IMAP server the tests start
# (crates/test-support/src/courier.rs): unpacked like Cyrus (courier-imap conflicts
# with dovecot-imapd); only the libraries its binaries link are installed.
for lib in libidn12 libgamin0 libltdl7 libgdbm6; do
  dpkg-query -W -f='${Status}' "$lib" 2>/dev/null | grep -q 'ok installed' || need+=("$lib")
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
updated=""
if ((${#need[@]})); then
  echo "scripts/test.sh: installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  updated=1
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# unpack ROOT WHAT PACKAGE...: downloads the packages (not installed: they
# conflict with dovecot-imapd) and unpacks them into ROOT with dpkg -x.
unpack() {
  local root=$1 what=$2
  shift 2
  echo "scripts/test.sh: unpacking $what into $root" >&2
  [ -n "$updated" ] || { $SUDO apt-get update -qq; updated=1; }
  local debs
  debs=$(mktemp -d)
  chmod 777 "$debs" # apt-get download runs as _apt where it can
  (cd "$debs" && apt-get download -qq "$@")
  $SUDO mkdir -p "$root"
  for deb in "$debs"/*.deb; do $SUDO dpkg -x "$deb" "$root"; done
  rm -rf "$debs"
}
cyrus_root=${CONCIERGE_CYRUS_ROOT:-/opt/concierge-test/cyrus}
if [ ! -x "$cyrus_root/usr/lib/cyrus/bin/master" ]; then
  unpack "$cyrus_root" "cyrus-imapd and cyrus-common" cyrus-imapd cyrus-common
fi
courier_root=${CONCIERGE_COURIER_ROOT:-/opt/concierge-test/courier}
if [ ! -x "$courier_root/usr/bin/imapd" ]; then
  # imapd + imaplogin, couriertcpd, authdaemond + makedatprog, the userdb
  # module + userdbpw, and the Unicode library they all link.
  unpack "$courier_root" "Courier-IMAP and courier-authlib" courier-imap courier-base \
    courier-authlib courier-authlib-userdb libcourier-unicode4
fi

# The benchmarks (examples/) must keep compiling; they are run by hand.
cargo build --locked --workspace --examples
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# --workspace: the root package and every crate under crates/ (their unit
# tests count in the total below).
cargo test --locked --workspace --lib --bins --tests "$@" 2>&1 | tee "$log"
# One closing line for the whole suite.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
