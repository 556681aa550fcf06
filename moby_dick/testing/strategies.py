"""Hypothesis strategies for moby-dick's input spaces (imported by tests only; needs hypothesis)."""

import string

from hypothesis import strategies as st

from moby_dick.uts import MAX_HOSTNAME_BYTES

HOSTNAME_LABELS = st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=20).filter(
    lambda label: not label.startswith("-") and not label.endswith("-"))
VALID_HOSTNAMES = st.lists(HOSTNAME_LABELS, min_size=1, max_size=3).map(".".join).filter(
    lambda name: len(name) <= MAX_HOSTNAME_BYTES)
# Arguments execve(2) can pass: any bytes but NUL.
ARGV_BYTES = st.binary(min_size=0, max_size=40).filter(lambda raw: b"\0" not in raw)
