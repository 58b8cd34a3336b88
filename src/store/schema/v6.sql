-- v6: integrity of the activity log and the receipts against deleted rows (issue 9).
-- Keyed: runs after the data key is loaded, in one transaction with the sealing of the clear
-- anchors and the setting of the marks (`migrations::migrate_keyed`).
ALTER TABLE account ADD COLUMN integrity BLOB;
ALTER TABLE activity_anchors ADD COLUMN sealed BLOB;
ALTER TABLE consent_receipts ADD COLUMN chain_seq INTEGER;
