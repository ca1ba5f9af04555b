"""Images in and out: files (read/write with metadata) and array conversion for the sampler."""
