"""Labels: the store every reference calculation goes into (:mod:`.store`) and the executor that
computes them in parallel, locally or on a Dask cluster (:mod:`.executor`). Workflows never call a
reference code directly: they ask :func:`label` for labels, so every calculation is cached, parallel
and survives interruption."""
from .executor import LabelRun, default_workers, label
from .store import LabelStore, label_key

__all__ = ["LabelStore", "LabelRun", "label", "label_key", "default_workers"]
