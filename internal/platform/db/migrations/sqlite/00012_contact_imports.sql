-- +goose Up
-- CSV imports of contacts. The uploaded file lives in the data directory (imports/<id>.csv) until
-- the import ends. plan is the JSON of the column plan fixed at upload (delimiter, each column's
-- target, onDuplicate, listId, tags). next_offset / next_line are the checkpoint: the byte offset
-- and line number of the first record not yet processed, written in the same transaction as the
-- batch before it, together with the counts, so a restarted import resumes exactly there.
CREATE TABLE contact_imports (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    status       TEXT NOT NULL,
    file_name    TEXT NOT NULL,
    file_size    BIGINT NOT NULL,
    plan         TEXT NOT NULL,
    total        BIGINT NOT NULL,
    processed    BIGINT NOT NULL,
    created      BIGINT NOT NULL,
    updated      BIGINT NOT NULL,
    skipped      BIGINT NOT NULL,
    failed       BIGINT NOT NULL,
    next_offset  BIGINT NOT NULL,
    next_line    BIGINT NOT NULL,
    error        TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    started_at   BIGINT,
    finished_at  BIGINT
);
CREATE INDEX contact_imports_workspace_idx ON contact_imports (workspace_id, id);

-- One row per failed CSV row: its line number, the offending value and why.
CREATE TABLE contact_import_errors (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    import_id    TEXT NOT NULL REFERENCES contact_imports (id) ON DELETE CASCADE,
    line         BIGINT NOT NULL,
    col          TEXT NOT NULL,
    value        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    PRIMARY KEY (import_id, line)
);

-- +goose Down
DROP TABLE contact_import_errors;
DROP TABLE contact_imports;
