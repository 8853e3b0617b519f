"""Train-time augmentation, deterministic given a generator (seeded per epoch and item by the dataset):
pen strokes (``strokes``), line images (``image``), speech waveforms (``audio``: speed, noise, gain),
feature masks and time warping (``spec``: SpecAugment), and their assembly for a speech training set
(``speech``: waveforms kept in memory, batches perturbed and featurised together)."""
