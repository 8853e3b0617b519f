"""Training a model from a config: the loop (``loop.train``), one optimisation step (``step``), the
checks made before a run starts (``checks``), the run's data (``data``), its resumable state
(``state``), what it writes besides checkpoints (``log``) and data-parallel helpers
(``distributed``). Nothing below this package imports it."""
