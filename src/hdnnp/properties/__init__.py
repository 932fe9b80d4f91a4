"""Per-atom properties (charges, NMR shielding tensors, any per-atom scalar or symmetric tensor) learned
by atomic networks on the potential's symmetry functions: the model (:mod:`.model`), training beside or
without a potential (:mod:`.train`) and prediction (:class:`.predict.PropertyPredictor`)."""
from .model import Target  # noqa: F401
