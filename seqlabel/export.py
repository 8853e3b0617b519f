"""Moved in 0.2 to ``seqlabel.inference.export``; this alias goes in 0.3."""
from seqlabel._moved import alias

alias(__name__, "seqlabel.inference.export")
