#!/usr/bin/env bash
# cross-build.sh SRC_DIR OUT_DIR
#
# Cross-compiles winib (portable core + WDM glue) into a kernel driver,
# winib.sys, with mingw-w64 and its DDK headers, -Werror, no C runtime,
# native subsystem, entry DriverEntry, linked against ntoskrnl; then checks
# the PE: native subsystem, an executable (not DLL) image with relocations,
# entry point at DriverEntry, and imports from ntoskrnl.exe only.
# Needs the Debian package mingw-w64 (gcc-mingw-w64-x86-64 + binutils +
# mingw-w64-x86-64-dev). Missing tools are a failure, never a skip.
set -euo pipefail

src=${1:?usage: cross-build.sh SRC_DIR OUT_DIR}
out=${2:?usage: cross-build.sh SRC_DIR OUT_DIR}
cross=x86_64-w64-mingw32
cc=$cross-gcc
objdump=$cross-objdump
nm=$cross-nm

fail() { echo "FAIL: $*" >&2; exit 1; }

for tool in "$cc" "$objdump" "$nm"; do
	command -v "$tool" >/dev/null 2>&1 ||
		fail "$tool not found: install the Debian package mingw-w64"
done

# Where the toolchain keeps <ddk/wdm.h>; ntddk.h includes <wdm.h> bare, so
# the ddk directory itself goes on the include path too.
ddk_wdm=$(echo '#include <ddk/wdm.h>' | "$cc" -xc - -E -M -MT x 2>/dev/null |
	  tr ' \\' '\n\n' | grep '/ddk/wdm\.h$' | head -n 1) ||
	true
[ -n "$ddk_wdm" ] || fail "<ddk/wdm.h> not found: install mingw-w64-x86-64-dev (part of mingw-w64)"
ddk_dir=$(dirname "$ddk_wdm")

cflags=(-std=gnu11 -O2 -g0 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
	-Wformat=2 -Wmissing-prototypes -Wstrict-prototypes -Wframe-larger-than=1024 -Wvla
	-ffreestanding -fno-builtin -fno-stack-protector -mno-red-zone -fno-asynchronous-unwind-tables
	-DPOOL_TAGGING -isystem "$ddk_dir" -I"$src/core/include")
ldflags=(-nostdlib -Wl,--subsystem,native -Wl,--entry,DriverEntry
	 -Wl,--image-base,0x140000000 -Wl,--dynamicbase -Wl,--nxcompat
	 -Wl,--file-alignment,0x200 -Wl,--section-alignment,0x1000)

rm -rf "$out"
mkdir -p "$out"
objs=()
for f in "$src"/core/src/*.c "$src"/wdm/*.c; do
	o="$out/$(basename "$f" .c).o"
	"$cc" "${cflags[@]}" -c "$f" -o "$o" || fail "compiling $f"
	objs+=("$o")
done
sys="$out/winib.sys"
"$cc" -o "$sys" "${objs[@]}" "${ldflags[@]}" -lntoskrnl -lgcc || fail "linking winib.sys"

"$objdump" -p "$sys" >"$out/pe.txt" || fail "objdump -p failed on winib.sys"
"$objdump" -h "$sys" >"$out/sections.txt"

grep -Eq '^Subsystem[[:space:]]+00000001[[:space:]]+\(NT native\)' "$out/pe.txt" ||
	fail "subsystem is not native: $(grep '^Subsystem' "$out/pe.txt")"

chars=$(awk '/^Characteristics/ {print $2; exit}' "$out/pe.txt")
(( (chars & 0x2000) == 0 )) || fail "image is marked as a DLL (Characteristics $chars)"
(( (chars & 0x0002) != 0 )) || fail "image is not executable (Characteristics $chars)"
grep -q ' \.reloc ' "$out/sections.txt" || fail "no .reloc section: the driver could not be relocated"

dlls=$(awk '/DLL Name:/ {print $3}' "$out/pe.txt" | sort -u)
[ "$dlls" = "ntoskrnl.exe" ] || fail "imports must come from ntoskrnl.exe only, got: $(echo $dlls)"

entry=$(awk '/^AddressOfEntryPoint/ {print $2; exit}' "$out/pe.txt")
base=$(awk '/^ImageBase/ {print $2; exit}' "$out/pe.txt")
de=$("$nm" "$sys" | awk '$3 == "DriverEntry" {print $1}')
[ -n "$de" ] || fail "no DriverEntry symbol"
(( 0x$entry + 0x$base == 0x$de )) || fail "entry point 0x$entry is not DriverEntry (0x$de)"

# The imports the glue's work depends on must be there, by name.
for sym in IoCreateDevice IoAttachDeviceToDeviceStack IofCompleteRequest IofCallDriver \
	   IoInvalidateDeviceRelations IoOpenDeviceRegistryKey ZwQueryValueKey \
	   ExAllocatePoolWithTag KeAcquireSpinLockRaiseToDpc KeReleaseSpinLock \
	   KeRegisterBugCheckCallback PoCallDriver; do
	grep -Eq "[[:space:]]$sym\$" "$out/pe.txt" || fail "winib.sys does not import $sym"
done

nimp=$(awk '/DLL Name: ntoskrnl.exe/ {on=1; next} /DLL Name:/ {on=0} on && NF == 3 && $2 ~ /^[0-9]+$/ {n++} END {print n+0}' "$out/pe.txt")
size=$(stat -c %s "$sys")
echo "OK: $sys: $size bytes, subsystem native, entry DriverEntry at 0x$de," \
     "$nimp imports from ntoskrnl.exe only"
