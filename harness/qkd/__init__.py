"""The numba QKD core: device profiles, analytic key-rate models and the Monte Carlo channel.

Modules: ``profiles`` (typed YAML profiles), ``photon_model`` (click probabilities per photon
number, honest and attacked), ``channel`` (``simulate_block``: the event Monte Carlo),
``keyrate`` (asymptotic decoy BB84), ``finite_key`` (Lim et al. 2014), ``bounds`` (PLOB, TGW).
"""
