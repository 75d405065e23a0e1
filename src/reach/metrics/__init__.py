"""metrics stage of reach (see DESIGN.md)."""
