"""The flow's vocabulary and engine, free of IO: typed events, the source/analyser seams, liveness,
the summary tally, shared config basics and the mechanisms every analyser reuses.

The bottom layer: it imports nothing else from ``agent``.
"""
