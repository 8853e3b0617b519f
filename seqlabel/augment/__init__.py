"""Train-time augmentation of raw inputs (pen strokes, line images), deterministic given a generator."""
