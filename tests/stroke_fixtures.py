"""Shared stroke fixtures: IAM-OnDB lineStrokes XML writing and a realistic synthetic handwriting line."""
from __future__ import annotations

import numpy as np

IAM_XML = """<?xml version="1.0" encoding="ISO-8859-1"?>
<WhiteboardCaptureSession>
  <WhiteboardDescription>
    <SensorLocation corner="top_left"/>
    <DiagonallyOppositeCoords x="6512" y="1376"/>
    <VerticallyOppositeCoords x="966" y="1376"/>
    <HorizontallyOppositeCoords x="6512" y="787"/>
  </WhiteboardDescription>
  <StrokeSet>
{strokes}
  </StrokeSet>
</WhiteboardCaptureSession>
"""


def iam_xml(strokes: list[np.ndarray]) -> str:
    """IAM-OnDB lineStrokes XML for strokes (N, 3): x, y, t."""
    parts = []
    for st in strokes:
        points = "\n".join(f'      <Point x="{x:.0f}" y="{y:.0f}" time="{t:.2f}"/>' for x, y, t in st)
        parts.append(f'    <Stroke colour="black" start_time="{st[0, 2]:.2f}" end_time="{st[-1, 2]:.2f}">\n'
                     f"{points}\n    </Stroke>")
    return IAM_XML.format(strokes="\n".join(parts))


def handwriting(seed: int = 0, words: tuple[str, ...] = ("minimum", "loop")) -> list[np.ndarray]:
    """A realistic line: the Hershey cursive font through the corpus's writer styling (y down, tablet units)."""
    from seqlabel.corpora.hershey import make_writers, write_line

    writer = make_writers(2, seed)[0]
    return write_line(list(words), writer, np.random.default_rng(seed))
