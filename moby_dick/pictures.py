"""Pictures drawn from live evidence, for the course notebooks (matplotlib; the ``notebooks`` extra).

* :func:`namespace_graph`: processes as boxes on the left, the namespaces they hold on the right,
  one box per namespace *identity*, so a namespace two processes share is drawn once with two lines.
* :func:`side_by_side`: two panels (host | container) listing what each sees, what differs highlighted.
"""

from __future__ import annotations

HOST_COLOUR, CONTAINER_COLOUR, SHARED_COLOUR, ONLY_COLOUR = "#cfe2f3", "#fce5cd", "#d9ead3", "#f4cccc"


def _pyplot():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("module://matplotlib_inline.backend_inline",):
        try:
            get_ipython  # noqa: F821  (defined inside IPython/Jupyter only)
        except NameError:
            matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def namespace_graph(processes: dict, kinds=("uts", "ipc", "net", "mnt"), title: str = ""):
    """``processes``: ``{label: {kind: NamespaceId}}`` (e.g. from ``probe.namespace_ids`` and ``Result.namespaces``).

    Processes on the left, one box per namespace identity on the right (grouped by kind), a line for
    each namespace a process holds: a box with several lines is a namespace they share.
    """
    plt = _pyplot()
    labels = list(processes)
    nodes = []  # (identity, holders)
    for kind in kinds:
        for identity in sorted({str(ids[kind]) for ids in processes.values() if kind in ids}):
            nodes.append((identity, [label for label, ids in processes.items() if str(ids.get(kind)) == identity]))
    rows = max(len(nodes), len(labels), 1)
    fig, ax = plt.subplots(figsize=(10, 1.0 + 0.45 * rows))
    ax.set_axis_off()

    def spread(count: int, index: int) -> float:  # evenly over the same height, top to bottom
        return (rows - 1) / 2 if count == 1 else (rows - 1) * (1 - index / (count - 1))

    process_y = {label: spread(len(labels), i) for i, label in enumerate(labels)}
    for label, y in process_y.items():
        ax.text(0, y, label, ha="right", va="center", fontsize=10,
                bbox=dict(boxstyle="round", fc=HOST_COLOUR if label.startswith("host") else CONTAINER_COLOUR))
    for index, (identity, holders) in enumerate(nodes):
        y = spread(len(nodes), index)
        ax.text(2.0, y, identity, ha="left", va="center", fontsize=9, family="monospace",
                bbox=dict(boxstyle="square", fc=SHARED_COLOUR if len(holders) > 1 else ONLY_COLOUR))
        for label in holders:
            ax.plot([0.1, 1.9], [process_y[label], y], color="#666", lw=1, zorder=0)
    ax.set_xlim(-3.2, 4.2)
    ax.set_ylim(-0.7, rows - 0.3)
    ax.set_title(title or "processes and the namespaces they hold (green: shared, red: held by one)")
    fig.tight_layout()
    return fig


def side_by_side(left_title: str, left: list[str], right_title: str, right: list[str], title: str = ""):
    """Two panels of lines; a line present on one side only is highlighted."""
    plt = _pyplot()
    rows = max(len(left), len(right), 1)
    fig, axes = plt.subplots(1, 2, figsize=(14, 0.9 + 0.36 * rows))
    for ax, heading, lines, other, colour in ((axes[0], left_title, left, right, HOST_COLOUR),
                                              (axes[1], right_title, right, left, CONTAINER_COLOUR)):
        ax.set_axis_off()
        ax.set_title(heading, fontsize=11, loc="left")
        ax.add_patch(plt.Rectangle((0, 0), 1, 1, fc=colour, ec="#888", transform=ax.transAxes, zorder=0))
        for i, line in enumerate(lines or ["(nothing)"]):
            only_here = bool(lines) and line not in other
            ax.text(0.02, 1 - (i + 0.8) / (rows + 0.3), _shorten(line), transform=ax.transAxes, fontsize=8,
                    family="monospace", va="center",
                    bbox=dict(fc=ONLY_COLOUR, ec="none") if only_here else None)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _shorten(line: str, width: int = 78) -> str:
    return line if len(line) <= width else line[: width // 2 - 1] + "…" + line[-(width // 2):]


def measured_bars(panels: list, title: str = ""):
    """Bar charts of what the kernel measured, one panel per ``(ylabel, {label: value}, limit or None)``;
    the limit is drawn as a dashed red line."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3), squeeze=False)
    for ax, (ylabel, values, limit) in zip(axes[0], panels):
        ax.bar(list(values), list(values.values()), color=[ONLY_COLOUR, HOST_COLOUR, SHARED_COLOUR][:len(values)])
        if limit is not None:
            ax.axhline(limit, color="red", ls="--")
        ax.set_ylabel(ylabel)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def network_map(ev: dict, title: str = ""):
    """The bridge demo's evidence as a picture: the lab's namespace with the bridge and the veth host ends,
    each container's namespace with its eth0 and address, the veth pairs between, and the published port."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(11, 4.6))
    ax.set_axis_off()
    ax.add_patch(plt.Rectangle((0, 0), 5.2, 4, fc=HOST_COLOUR, ec="#888"))
    ax.text(0.1, 3.8, f"lab network namespace {ev['lab_netns']}", fontsize=9, va="top")
    ax.text(2.6, 2.0, f"bridge moby-dick0\n{', '.join(ev['bridge_address'])}", ha="center", va="center", fontsize=10,
            bbox=dict(boxstyle="round", fc=SHARED_COLOUR))
    ax.text(0.4, 0.5, f"127.0.0.1:8080 (forwarder)\n→ {ev['published_answer']!r}", fontsize=8, va="center",
            bbox=dict(boxstyle="square", fc="white", ec="#888"))
    veths = [name for name, link in ev["links"].items() if link["master"] == "moby-dick0"]
    boxes = [("server", ev["server"], 3.1, veths[0] if veths else "(veth)"),
             ("client", ev["client"], 0.9, "(its veth: gone\nwith the client)")]
    for label, view, y, host_end in boxes:
        ax.add_patch(plt.Rectangle((7.0, y - 0.6), 3.6, 1.2, fc=CONTAINER_COLOUR, ec="#888"))
        ax.text(7.1, y + 0.5, f"{label}: {view['netns']}", fontsize=8, va="top")
        address = " ".join(view["addresses"].get("eth0", [])) or "(no address)"
        ax.text(7.5, y - 0.1, f"eth0 {address}", fontsize=9, family="monospace", va="center",
                bbox=dict(boxstyle="square", fc="white"))
        ax.text(4.3, y, host_end, fontsize=8, family="monospace", va="center", ha="center",
                bbox=dict(boxstyle="square", fc="white"))
        ax.plot([4.9, 7.45], [y, y - 0.1], color="#444", lw=2)  # the veth pair
        ax.plot([3.4, 3.75], [2.0, y], color="#444", lw=1)  # a port of the bridge
        ax.text(6.1, y + 0.12, "veth pair", fontsize=7, ha="center")
    ax.text(7.0, -0.25, f"client → server: {ev['client_answer']!r}; --network none: {ev['alone_answer']!r}", fontsize=8)
    ax.set_xlim(-0.2, 10.8)
    ax.set_ylim(-0.5, 4.1)
    ax.set_title(title or "namespaces, veth pairs and the bridge, as ip -j reported them in this run")
    fig.tight_layout()
    return fig
