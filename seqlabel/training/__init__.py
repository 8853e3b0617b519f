"""Training a model from a config: the loop (``loop.train``), one optimisation step (``step``), the
checks made before a run starts (``checks``), the run's data (``data``), its resumable state
(``state``), what it writes besides checkpoints (``log``), data-parallel helpers (``distributed``),
the dev evaluation (``dev``), checkpoint averaging (``averaging``) and cross-validation by speaker
(``crossval``). Nothing below this package imports it."""
