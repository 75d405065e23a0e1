"""model stage of reach (see DESIGN.md)."""
