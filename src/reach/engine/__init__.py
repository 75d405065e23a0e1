"""engine stage of reach (see DESIGN.md)."""
