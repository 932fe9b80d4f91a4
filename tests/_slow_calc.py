"""A deliberately slow EMT for the label-store interruption test (importable by worker processes)."""
import time

from ase.calculators.emt import EMT


class SlowEMT(EMT):
    def __init__(self, delay: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.delay = delay

    def calculate(self, *args, **kwargs):
        time.sleep(self.delay)
        super().calculate(*args, **kwargs)


class Crashing(EMT):
    """Kills its own process (as a segfaulting code would) on structures with more than 40 atoms."""

    def calculate(self, atoms=None, *args, **kwargs):
        if atoms is not None and len(atoms) > 40:
            import os
            os._exit(11)
        super().calculate(atoms, *args, **kwargs)
