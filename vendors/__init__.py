"""Vendor adapters: simulated and real QKD devices, PQC libraries, TLS stacks."""
