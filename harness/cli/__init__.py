"""The `qsbench` command line: the commands (`app.py` and one module per command group), the
console they print to, and the error boundary around every command."""
