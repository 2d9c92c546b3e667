"""The routes, one module per resource: jobs, models, plots, operations, the dashboard."""
