#!/bin/bash
# SPDX-License-Identifier: MIT
# Measure (no assertions): fio 4 KiB random read QD32, 4 KiB QD1 and 1 MiB
# sequential read/write through an xsvhba-fuse file, against fio with
# io_uring on the backing file itself (O_DIRECT, and buffered - the file
# LUN's back end is buffered). Prints one line per run and a JSON object.
#
# usage: measure.sh BUILD-DIR [WORKDIR] [SECONDS]
set -u
B=$1 W=${2:-/tmp/xsvhba-measure} T=${3:-8}
rm -rf "$W" && mkdir -p "$W/mnt" || exit 1
"$B/xscore/fabricd/xs-fabricd" -f -s "$W/f.sock" 2>"$W/fabricd.log" & FD=$!
for i in $(seq 100); do [ -S "$W/f.sock" ] && break; sleep 0.05; done
echo "lun 0 $W/lun0.img size=1073741824" >"$W/srpt.conf"
"$B/director/srpt/xsd-srpt" -F "soft:$W/f.sock" -p target -c "$W/srpt.conf" 2>"$W/srpt.log" & TG=$!
sleep 0.3
dd if=/dev/urandom of="$W/lun0.img" bs=1M count=1024 conv=notrunc status=none
"$B/xsvhba/xsvhba-fuse" -F "soft:$W/f.sock" -t 2 -q 64 -m "$W/mnt" 2>"$W/fuse.log" & FU=$!
for i in $(seq 100); do [ -e "$W/mnt/lun0" ] && break; sleep 0.1; done
declare -A R
run() { # name file rw bs depth engine [extra]
	local out
	out=$(fio --name="$1" --filename="$2" --rw="$3" --bs="$4" --iodepth="$5" --ioengine="$6" \
		--direct=1 --size=1G --runtime="$T" --time_based --output-format=terse ${7:-} 2>/dev/null)
	# terse v3: 7 read KB/s, 8 read IOPS, 40 read mean lat us; 48 write KB/s, 49 write IOPS
	IFS=';' read -ra f <<<"$out"
	printf '%-20s read %7s IOPS %8.1f MB/s (%6.1f us)  write %7s IOPS %8.1f MB/s\n' "$1" \
		"${f[7]}" "$(echo "${f[6]} / 1000" | bc -l)" "${f[39]}" "${f[48]}" \
		"$(echo "${f[47]} / 1000" | bc -l)"
	R[$1-iops]=$(( ${f[7]} + ${f[48]} ))
	R[$1-kbs]=$(( ${f[6]} + ${f[47]} ))
}
run file_4k_qd32 "$W/lun0.img" randread 4k 32 io_uring
run filebuf_4k_qd32 "$W/lun0.img" randread 4k 32 io_uring --direct=0
run fuse_4k_qd32 "$W/mnt/lun0" randread 4k 32 libaio
run file_4k_qd1 "$W/lun0.img" randread 4k 1 psync --direct=0
run fuse_4k_qd1 "$W/mnt/lun0" randread 4k 1 psync
run file_1m_read "$W/lun0.img" read 1M 4 io_uring
run filebuf_1m_read "$W/lun0.img" read 1M 4 io_uring --direct=0
run fuse_1m_read "$W/mnt/lun0" read 1M 4 libaio
run file_1m_write "$W/lun0.img" write 1M 4 io_uring
run fuse_1m_write "$W/mnt/lun0" write 1M 4 libaio
kill "$FU"; wait "$FU"; kill "$TG" "$FD"; wait
printf '{"fuse_4k_iops":%s,"file_4k_iops":%s,"filebuf_4k_iops":%s,"fuse_seq_read_kbs":%s,"file_seq_read_kbs":%s,"filebuf_seq_read_kbs":%s,"fuse_seq_write_kbs":%s,"file_seq_write_kbs":%s,"fuse_4k_ratio":%.3f}\n' \
	"${R[fuse_4k_qd32-iops]}" "${R[file_4k_qd32-iops]}" "${R[filebuf_4k_qd32-iops]}" \
	"${R[fuse_1m_read-kbs]}" "${R[file_1m_read-kbs]}" "${R[filebuf_1m_read-kbs]}" \
	"${R[fuse_1m_write-kbs]}" "${R[file_1m_write-kbs]}" \
	"$(echo "${R[fuse_4k_qd32-iops]} / ${R[file_4k_qd32-iops]}" | bc -l)"
