"""python -m seqlabel: the command line."""
from seqlabel.cli import run

run()
