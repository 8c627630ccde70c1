#!/bin/sh
# Builds the Debian package and proves it installs: release build (LTO, so
# this takes minutes on 2 cores; run by hand, not in CI), the man page and
# completions generated from the binary itself, `cargo deb --no-build`, then
# `dpkg -i` and `concierge --version` run from the installed package.
#
#   scripts/package-deb.sh            # needs cargo-deb: cargo install cargo-deb --locked
#   SKIP_INSTALL=1 scripts/package-deb.sh   # build the .deb only
#   NO_BUILD=1 scripts/package-deb.sh       # package target/dist/concierge as it is
#
# Needs root (or sudo) for dpkg -i.
set -eu
cd "$(dirname "$0")/.."

if ! cargo deb --version >/dev/null 2>&1; then
    echo "package-deb: cargo-deb is missing: cargo install cargo-deb --locked" >&2
    exit 1
fi

if [ "${NO_BUILD:-}" != 1 ]; then
    cargo build --profile dist --locked
fi
bin=target/dist/concierge
echo "binary: $(stat -c %s "$bin") bytes ($bin)"

# Generated from the clap definitions, so they match this very binary.
mkdir -p target/dist
"$bin" man | gzip -9n > target/dist/concierge.1.gz
"$bin" completions bash > target/dist/concierge.bash
"$bin" completions zsh > target/dist/_concierge
"$bin" completions fish > target/dist/concierge.fish

deb=$(cargo deb --no-build --locked | tail -n 1)
echo "package: $deb ($(stat -c %s "$deb") bytes)"
dpkg-deb --contents "$deb"

if [ "${SKIP_INSTALL:-}" = 1 ]; then
    exit 0
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
$sudo dpkg -i "$deb"
# Run from the package, not from target/.
/usr/bin/concierge --version
test -f /usr/lib/systemd/user/concierge-sync.service
test -f /usr/share/man/man1/concierge.1.gz
test -f /usr/share/bash-completion/completions/concierge
gzip -dc /usr/share/man/man1/concierge.1.gz | grep -q 'CONCIERGE INIT'
if command -v systemd-analyze >/dev/null 2>&1; then
    systemd-analyze verify --user /usr/lib/systemd/user/concierge-sync.service 2>&1 || true
fi
echo "package-deb: installed and runs: $(/usr/bin/concierge --version)"
