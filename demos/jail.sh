#!/usr/bin/env bash
# The filesystem jail and the PID namespace, as the README shows them: a rootfs built offline, PID 1,
# nothing of the host, and the rootfs directory unchanged after the container wrote to /.
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

rootfs=$(mktemp -d /tmp/moby-dick-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
rmdir "$rootfs"
moby mkrootfs "$rootfs"
before=$(cd "$rootfs" && find . -printf '%p %s %T@\n' | sort)
ps_out=$(moby run --rootfs "$rootfs" ps)
printf '%s\n' "$ps_out"
ls_out=$(moby run --rootfs "$rootfs" ls /)
printf '%s\n' "$ls_out"
moby run --rootfs "$rootfs" sh -c 'echo written > /newfile; ls /newfile'
after=$(cd "$rootfs" && find . -printf '%p %s %T@\n' | sort)
check '[ "$(echo "$ps_out" | awk "NR>1" | wc -l)" = 1 ] && echo "$ps_out" | awk "NR==2 {exit \$1 != 1}"' \
      "ps shows one process, and it is PID 1"
check '[ "$(echo $ls_out)" = "$(ls "$rootfs" | tr "\n" " " | sed "s/ $//")" ]' "ls / shows the rootfs"
check '[ "$before" = "$after" ]' "the rootfs directory is unchanged after the container wrote to /"
