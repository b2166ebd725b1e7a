"""Types of the parts of waitress that palletizer_services.server uses (waitress ships none)."""
