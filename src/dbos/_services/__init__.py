"""Background services: each one start() / stop(), stop idempotent and waiting, crashes logged."""
