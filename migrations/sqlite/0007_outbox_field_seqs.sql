-- When each field of a queued status was last set (the row's seq at that time), so that
-- acknowledging a delivered row that changed meanwhile clears only the fields that were
-- delivered. Without them, an operating status merged into a row being delivered kept
-- the delivered provisioning status queued, and it was sent again later, possibly after
-- Octavia had started the object's next change (a load balancer back to ACTIVE while a
-- member create was still pending). NULL: set when the row was inserted, so delivered
-- by any delivery that read the row.
ALTER TABLE status_outbox ADD COLUMN provisioning_seq INTEGER;
ALTER TABLE status_outbox ADD COLUMN operating_seq INTEGER;
