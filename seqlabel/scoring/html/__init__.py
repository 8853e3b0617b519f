"""A browsable HTML report of an evaluation folder (or a comparison of two), static and self-contained:
see ``build.build_report``."""
from seqlabel.scoring.html.build import ReportOptions, build_report

__all__ = ["ReportOptions", "build_report"]
