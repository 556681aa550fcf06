#!/usr/bin/env bash
# The seed README's "Network" session: inside, only lo, and it is DOWN.
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

run ip a
inside=$(moby ip a)
printf '%s\n' "$inside"
check '[ "$(echo "$inside" | grep -c "^[0-9]*: ")" = 1 ]' "one device inside"
check 'echo "$inside" | grep -q "^1: lo: .*state DOWN"' "it is lo, and it is DOWN"
