-- Probes about to be posted to a node. Written before the POST and removed with the
-- applied record after it (or with the probe's deletion): a crash between the POST and
-- the record leaves the intent, so the next sync of that key knows the probe may exist
-- and deletes it if nothing wants it any more (otherwise it leaked: seen as an extra
-- probe after SIGKILLs in the crash test). `options` is the body that was posted.
CREATE TABLE probe_intents (
    node       TEXT NOT NULL,
    probe_key  TEXT NOT NULL,
    options    TEXT NOT NULL,
    PRIMARY KEY (node, probe_key)
);
