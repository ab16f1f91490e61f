-- Who listens for messages, events and stream values, so that writes notify only when some
-- process does. Every NOTIFY wakes every listening backend of the database, whatever its
-- channel (measured: ~25-30 us more per set_event with one idle listener on another
-- channel). A listener inserts its backend's row in the transaction that LISTENs, after
-- taking this table's ACCESS EXCLUSIVE lock: writes that read the table before it are
-- committed by then, so the waiter's first check sees them, and every write after it
-- notifies. Rows of backends that are gone are deleted at the next registration.
CREATE TABLE {s}listeners (
    channel TEXT NOT NULL,
    backend_pid INTEGER NOT NULL,
    PRIMARY KEY (channel, backend_pid)
);
