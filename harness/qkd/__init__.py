"""The numba QKD core: key-rate theory, the Monte Carlo channel and the post-processing pipeline."""
