"""The simulated QKD device: profiles as data (``profiles/*.yaml``), a link on a device clock,
its key store and its ETSI GS QKD 014 KMEs; the physics lives in harness.qkd."""
