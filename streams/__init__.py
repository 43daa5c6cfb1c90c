"""Faust stream processors: admission, scheduler, notifier (thin adapters around pure modules)."""
