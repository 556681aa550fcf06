#!/usr/bin/env bash
# The seed README's "Interprocess Communication" session: the host's message queue is invisible inside.
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

printf '\n> ipcmk -Q\n'
made=$(ipcmk -Q); echo "$made"; id=${made##* }
trap 'ipcrm -q "$id"' EXIT
run ipcs -q
inside=$(moby ipcs -q)
printf '%s\n' "$inside"
check '! echo "$inside" | awk "NR>4 {print \$2}" | grep -qx "$id"' "queue $id is not visible inside"
check 'ipcs -q | awk "{print \$2}" | grep -qx "$id"' "queue $id is still on the host"
