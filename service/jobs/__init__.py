"""Running jobs: the store (the source of truth), the dispatcher and the worker task."""
