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


class EggBoxEMT(EMT):
    """EMT plus an egg-box term A Σ_i Σ_a cos(2π x_ia / h): energies that change under rigid translations, as those
    of a code on a real-space grid of spacing h do (for the translation check)."""

    def __init__(self, amplitude: float = 0.02, h: float = 0.2, **kwargs):
        super().__init__(**kwargs)
        self.amplitude, self.h = amplitude, h

    def calculate(self, atoms=None, *args, **kwargs):
        import numpy as np
        super().calculate(atoms, *args, **kwargs)
        k = 2 * np.pi / self.h
        x = self.atoms.positions
        self.results["energy"] += self.amplitude * float(np.cos(k * x).sum())
        self.results["free_energy"] = self.results["energy"]
        self.results["forces"] = self.results["forces"] + self.amplitude * k * np.sin(k * x)
