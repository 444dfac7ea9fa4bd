"""Measurement suites and the shipped example scenarios."""
