"""Code shared by every handler: names, errors, configuration and observability."""
