"""pytest support shipped with the package: the ``--run-privileged`` plugin and the host-leak check."""
