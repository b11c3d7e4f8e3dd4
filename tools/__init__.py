"""Developer tools, not shipped in the runtime package: ``make run``, mask evaluation, data split."""
