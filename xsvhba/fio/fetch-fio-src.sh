#!/bin/sh
# SPDX-License-Identifier: MIT
# Get the source of the installed fio (Debian ships no fio headers) and
# configure it, for building the xsvhba fio engine. Prints the tree's path.
#
# usage: fetch-fio-src.sh [CACHE-DIR]   (default /var/cache/xsigo/fio-src)
# Adds /etc/apt/sources.list.d/xsigo-src.sources (deb-src for the mirror
# and suites of the deb entries) when no deb-src entry exists; needs root
# for that, dpkg-dev for dpkg-source.
set -eu
CACHE=${1:-/var/cache/xsigo/fio-src}
VER=$(dpkg-query -W -f '${Version}' fio)          # 3.33-3
UP=${VER%-*}                                      # 3.33
UP=${UP#*:}
TREE=$CACHE/fio-$UP
if [ -f "$TREE/config-host.h" ]; then echo "$TREE"; exit 0; fi
if ! grep -rqs '^\(Types: *deb-src\|deb-src \)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	SRC=/etc/apt/sources.list.d/debian.sources
	URI=$(sed -n 's/^URIs: *//p' "$SRC" | head -n 1)
	SUITES=$(awk '/^URIs:/ {u=$2} /^Suites:/ && u !~ /security/ {sub(/^Suites: */, ""); print; exit}' "$SRC")
	cat >/etc/apt/sources.list.d/xsigo-src.sources <<SRCS
Types: deb-src
URIs: $URI
Suites: $SUITES
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRCS
	apt-get update -qq >&2
fi
mkdir -p "$CACHE"
cd "$CACHE"
[ -f "fio_$VER.dsc" ] || apt-get source --download-only "fio=$VER" >&2
[ -d "$TREE" ] || dpkg-source -x "fio_$VER.dsc" "$TREE" >&2
cd "$TREE"
./configure --disable-native >&2
echo "$TREE"
