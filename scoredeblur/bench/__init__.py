"""scoredeblur-bench: synthetic defocus cases, a registry of methods, quality and speed reports."""
