"""Renderers: turn a resolved render request into frames."""
