"""ingest stage of reach (see DESIGN.md)."""
