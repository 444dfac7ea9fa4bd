"""The simulated QKD device: profiles as data (``profiles/*.yaml``); the physics lives in harness.qkd."""
