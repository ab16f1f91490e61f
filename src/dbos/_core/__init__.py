"""Pure decisions of the durable-execution model: no I/O, no threads, no clock reads."""
