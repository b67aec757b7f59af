"""The precomputed format: the info file and its scales, the chunk grid and chunk names."""
