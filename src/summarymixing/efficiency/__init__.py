"""Efficiency benchmark: training-step time, decoding real-time factor and peak memory against length.

The paper's Figure 2 (paper.md section 2.2) and the GPU-hours / VRAM columns of its Table 1 (section
2.1), regenerated on the user's hardware for every size x encoder x mixer of ``params.yaml: efficiency``.

    settings   the ``efficiency`` block of params.yaml, resolved into the list of points to measure (no torch)
    worker     measures one point in a fresh process: timing, peak memory, out-of-memory (imports torch)
    runner     runs the points one by one in fresh processes, enforces the memory cap, writes the CSV
    report     the three-panel figure and the Markdown table (ratios, scaling exponents, targets)

The CLI is ``summarymixing bench`` (``summarymixing.stages.bench``).
"""
