"""Command-line entry points: scoredeblur (deblur, train, pack, train-radius), scoredeblur-build,
scoredeblur-bench."""
