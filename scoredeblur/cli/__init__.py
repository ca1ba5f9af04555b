"""Command-line entry points: scoredeblur (deblur, deblur-cluster, train, pack, train-radius),
scoredeblur-build, scoredeblur-bench."""
