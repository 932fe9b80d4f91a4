"""Workflows: what researchers do with a potential, each a function over (potential or reference,
structures, settings) -> results + plots. They get reference data only through :mod:`hdnnp.labels`."""
