#!/usr/bin/env bash
# The seed README's "System identification" session: the container's hostname is its own.
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

before=$(hostname)
run hostname
inside=$(moby sh -c 'hostname; hostname josh; hostname')
printf '%s\n' "$inside"
run hostname
check '[ "$(hostname)" = "$before" ]' "the host is still called $before"
check '[ "$(echo $inside)" = "containerhostname josh" ]' \
      "inside it was containerhostname, then josh"
