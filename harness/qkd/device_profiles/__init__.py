"""Device and channel profiles (YAML), loaded by ``harness.qkd.profiles.load_profile``."""
