"""qsbench engine: scenarios, planning, runner, results store, statistics and reports."""
