"""Judging a run: criteria and verdicts, statistics, units, the scorecard, comparison with earlier
runs, history, host stability, the summary and JUnit output."""
