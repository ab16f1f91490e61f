-- Wake waiters in every process when what they wait for is written: a message (recv), an
-- event (get_event), a stream value (read_stream). The payload names the key waited on,
-- "<workflow id>::<topic or key>". The notify is part of the writing transaction, so a
-- waiter is never woken before the row is visible. Postgres refuses payloads of 8000 bytes
-- or more; for those an empty payload tells the listener to wake every waiter of the kind.
CREATE FUNCTION {s}dbos_notify_key(channel TEXT, payload TEXT) RETURNS void AS $$
BEGIN
    IF octet_length(payload) < 7900 THEN
        PERFORM pg_notify(channel, payload);
    ELSE
        PERFORM pg_notify(channel, '');
    END IF;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION {s}dbos_notify_message() RETURNS trigger AS $$
BEGIN
    PERFORM {s}dbos_notify_key('dbos_notifications_channel', NEW.destination_uuid || '::' || NEW.topic);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER dbos_message_sent
    AFTER INSERT ON {s}notifications
    FOR EACH ROW EXECUTE FUNCTION {s}dbos_notify_message();

CREATE FUNCTION {s}dbos_notify_event() RETURNS trigger AS $$
BEGIN
    PERFORM {s}dbos_notify_key('dbos_workflow_events_channel', NEW.workflow_uuid || '::' || NEW.key);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER dbos_event_set
    AFTER INSERT OR UPDATE ON {s}workflow_events
    FOR EACH ROW EXECUTE FUNCTION {s}dbos_notify_event();

CREATE FUNCTION {s}dbos_notify_stream() RETURNS trigger AS $$
BEGIN
    PERFORM {s}dbos_notify_key('dbos_streams_channel', NEW.workflow_uuid || '::' || NEW.key);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER dbos_stream_written
    AFTER INSERT ON {s}streams
    FOR EACH ROW EXECUTE FUNCTION {s}dbos_notify_stream();

-- send_to_forks follows forked_from from a destination to every fork made from it.
CREATE INDEX idx_workflow_status_forked_from ON {s}workflow_status (forked_from)
    WHERE forked_from IS NOT NULL;

-- Messages are received oldest first; this breaks ties between messages sent in the same
-- millisecond (SQLite orders by its rowid instead).
ALTER TABLE {s}notifications ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;
