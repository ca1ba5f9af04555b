"""Training: the score prior by denoising score matching, the learned radius estimator, data."""
