"""The score network: the U-Net, its preconditioning, checkpoints and the embedded weights."""
