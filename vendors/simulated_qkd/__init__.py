"""The simulated QKD device: a link from a device profile, its key store and its ETSI GS QKD 014 KMEs."""
