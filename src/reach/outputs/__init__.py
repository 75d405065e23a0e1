"""outputs stage of reach (see DESIGN.md)."""
