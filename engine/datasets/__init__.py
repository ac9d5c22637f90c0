"""Dataset adapters: one module per dataset, all returning :class:`~engine.datasets.base.ClipRecord`."""
