-- v9: losing, changing and re-binding the phone (issue 15, ARCHITECTURE.md decision 42).
-- * account.outbox_hold: why the queued requests wait for the citizen's confirmation before they
--   are delivered: `device_locked` (the device was locked remotely; set when the lock is learned)
--   or `key_rotated` (the device key was replaced after invalidation; the queued requests were
--   signed by the old key and are re-signed only once the citizen confirms). NULL: deliver.
--   Clear text: a reason from a closed set, no personal data.
ALTER TABLE account ADD COLUMN outbox_hold TEXT;
