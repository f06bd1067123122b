#!/usr/bin/env bash
# fetch-valkey.sh puts a valkey-server of version 8.1 or later, the first
# server with a native compare-and-set (SET ... IFEQ), where the store tests
# find it: $XDG_CACHE_HOME/sessionkit-valkey (~/.cache/sessionkit-valkey).
#
# Debian 12 has no such server (Redis 7.0; Valkey 8.0 in bookworm-backports).
# Debian 13 (trixie) has Valkey 8.1, built against trixie's C library, which
# is newer than bookworm's. So this script downloads trixie's valkey-server
# and valkey-tools packages and the libraries they link, with apt (which
# checks Debian's signatures and hashes) under a private configuration that
# leaves the machine's own apt state alone, unpacks them into the cache
# directory, and writes a valkey-server there that runs the binary with
# trixie's dynamic loader and libraries. Nothing is installed system-wide;
# root is not needed.
#
# It does nothing when the cache already holds a working server, or when
# valkey-server on PATH is 8.1 or later. internal/testserver/valkey.go
# starts the server; `make deps` (so `make test`) runs this script.
set -euo pipefail

suite=${VALKEY_SUITE:-trixie}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/sessionkit-valkey

# at_least_8_1 reports whether the valkey-server command $1 is 8.1 or later.
at_least_8_1() {
	local v
	v=$("$1" --version 2>/dev/null | sed -n 's/.* v=\([0-9][0-9]*\)\.\([0-9][0-9]*\)\..*/\1 \2/p')
	[ -n "$v" ] || return 1
	set -- $v
	[ "$1" -gt 8 ] || { [ "$1" -eq 8 ] && [ "$2" -ge 1 ]; }
}

if command -v valkey-server >/dev/null && at_least_8_1 valkey-server; then
	echo "valkey: $(command -v valkey-server) is 8.1 or later"
	exit 0
fi
if [ -x "$cache/valkey-server" ] && at_least_8_1 "$cache/valkey-server"; then
	echo "valkey: $("$cache/valkey-server" --version | cut -d' ' -f3) in $cache"
	exit 0
fi

case $(dpkg --print-architecture) in
amd64) triplet=x86_64-linux-gnu loader=ld-linux-x86-64.so.2 ;;
arm64) triplet=aarch64-linux-gnu loader=ld-linux-aarch64.so.1 ;;
*) echo "valkey: no Debian $suite valkey for $(dpkg --print-architecture) here" >&2; exit 1 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/sessionkit-valkey-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/apt/lists/partial" "$work/apt/archives/partial" "$work/apt/preferences.d" "$work/debs" "$work/new/root"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" >"$work/apt/sources.list"
apt=(apt-get -qq
	-o "Dir::Etc::SourceList=$work/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$work/apt/preferences.d"
	-o "Dir::State=$work/apt" -o Dir::State::Status=/dev/null -o "Dir::Cache=$work/apt"
	-o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)" -o Acquire::Retries=3
	-o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
	-o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
	-o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
	-o Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false)
echo "valkey: downloading Debian $suite's valkey-server and the libraries it links"
# The server and everything its binary links, down to the C library.
packages=(valkey-server valkey-tools libc6 libssl3t64 libjemalloc2 liblzf1 libsystemd0
	libatomic1 libcap2 libgcc-s1 libstdc++6 zlib1g libzstd1)
# Three tries, 10 s apart, of the index and the packages together: apt-get
# update only warns about an index it could not fetch (a transient network
# error), and the download then finds no such package.
for try in 1 2 3; do
	rm -f "$work"/debs/*
	if "${apt[@]}" update && (cd "$work/debs" && "${apt[@]}" download "${packages[@]}"); then
		break
	fi
	[ "$try" -lt 3 ] || exit 1
	echo "valkey: download failed (try $try of 3), again in 10s" >&2
	sleep 10
done
for deb in "$work"/debs/*.deb; do
	dpkg-deb -x "$deb" "$work/new/root"
done

lib=$work/new/root/usr/lib/$triplet
bin=$work/new/root/usr/bin/valkey-server
# Every library must come from the unpacked packages, none from the machine.
if outside=$("$lib/$loader" --library-path "$lib" --list "$bin" | grep '=>' | grep -v "=> $work/new/root/"); then
	echo "valkey: libraries not among the downloaded packages:" >&2
	echo "$outside" >&2
	exit 1
fi

cat >"$work/new/valkey-server" <<EOF
#!/bin/sh
# Debian $suite's valkey-server with $suite's own loader and libraries
# (written by internal/testserver/fetch-valkey.sh).
here=\$(dirname "\$(readlink -f "\$0")")
exec "\$here/root/usr/lib/$triplet/$loader" --library-path "\$here/root/usr/lib/$triplet" "\$here/root/usr/bin/valkey-server" "\$@"
EOF
chmod +x "$work/new/valkey-server"
if ! at_least_8_1 "$work/new/valkey-server"; then
	echo "valkey: Debian $suite's valkey-server is not 8.1 or later: $("$work/new/valkey-server" --version 2>&1)" >&2
	exit 1
fi

mkdir -p "$(dirname "$cache")"
rm -rf "$cache.old"
[ ! -e "$cache" ] || mv "$cache" "$cache.old"
mv "$work/new" "$cache"
rm -rf "$cache.old"
echo "valkey: $("$cache/valkey-server" --version | cut -d' ' -f3) in $cache"
