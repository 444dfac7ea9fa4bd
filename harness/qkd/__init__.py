"""The numba QKD core: device profiles, analytic key-rate models, the Monte Carlo channel and post-processing.

Modules: ``profiles`` (typed YAML profiles), ``photon_model`` (click probabilities per photon
number, honest and attacked), ``channel`` (``simulate_block``: the event Monte Carlo),
``keyrate`` (asymptotic decoy BB84), ``finite_key`` (Lim et al. 2014), ``bounds`` (PLOB, TGW);
post-processing: ``cascade`` (``reconcile``), ``verify``, ``privacy`` (``toeplitz_hash``) and
``pipeline`` (``run_block``: sifting to final key, with per-stage statistics).
"""
