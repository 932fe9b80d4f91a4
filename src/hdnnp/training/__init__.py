"""Training of HDNNPs: YAML configuration -> cached descriptors -> Adam / L-BFGS / n2p2's extended
Kalman filter -> n2p2 potential folder, metrics, plots (see ``trainer`` for the run folder)."""
from .config import TrainConfig, config_from_dict, load_config
from .trainer import Trainer, train

__all__ = ["TrainConfig", "config_from_dict", "load_config", "Trainer", "train"]
