"""Cross-cutting pieces: settings, errors, security, metrics, content negotiation."""
