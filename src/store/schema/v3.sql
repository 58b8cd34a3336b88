-- v3: the activity log (entries sealed; anchors are server countersignatures).
CREATE TABLE activity_log (
    seq INTEGER PRIMARY KEY,
    entry BLOB NOT NULL
);
CREATE TABLE activity_anchors (
    seq INTEGER PRIMARY KEY,
    anchor TEXT NOT NULL
);
