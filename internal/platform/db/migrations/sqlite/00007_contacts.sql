-- +goose Up
-- Contacts: phone is E.164 and unique in the workspace; name_lower is name lowercased in Go (for
-- substring search identically on both dialects); attributes (a flat JSON object) and tags (a JSON
-- array) are the contact's own copy, and contact_attributes / contact_tags repeat them one row per
-- value for search. value_text is the attribute's value as text (strings as is, numbers in Go's
-- shortest form, booleans true/false).
CREATE TABLE contacts (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    phone        TEXT NOT NULL,
    name         TEXT NOT NULL,
    name_lower   TEXT NOT NULL,
    email        TEXT NOT NULL,
    timezone     TEXT NOT NULL,
    attributes   TEXT NOT NULL,
    tags         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX contacts_workspace_phone_key ON contacts (workspace_id, phone);
CREATE INDEX contacts_workspace_idx ON contacts (workspace_id, id);
CREATE INDEX contacts_workspace_name_idx ON contacts (workspace_id, name_lower);

CREATE TABLE contact_tags (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    contact_id   TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    tag          TEXT NOT NULL,
    PRIMARY KEY (contact_id, tag)
);
CREATE INDEX contact_tags_search_idx ON contact_tags (workspace_id, tag, contact_id);

CREATE TABLE contact_attributes (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    contact_id   TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    value_text   TEXT NOT NULL,
    PRIMARY KEY (contact_id, name)
);
CREATE INDEX contact_attributes_search_idx ON contact_attributes (workspace_id, name, value_text, contact_id);

-- Static lists and their members.
CREATE TABLE contact_lists (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX contact_lists_workspace_name_key ON contact_lists (workspace_id, name);
CREATE INDEX contact_lists_workspace_idx ON contact_lists (workspace_id, id);

CREATE TABLE contact_list_members (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    list_id      TEXT NOT NULL REFERENCES contact_lists (id) ON DELETE CASCADE,
    contact_id   TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    added_at     BIGINT NOT NULL,
    PRIMARY KEY (list_id, contact_id)
);
CREATE INDEX contact_list_members_contact_idx ON contact_list_members (workspace_id, contact_id);

-- The workspace's do-not-call list: numbers (E.164), whether or not a contact has them. A
-- contact's doNotCall is whether its number is here.
CREATE TABLE dnc_numbers (
    id           TEXT NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    phone        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, phone)
);
CREATE INDEX dnc_numbers_workspace_idx ON dnc_numbers (workspace_id, id);

-- +goose Down
DROP TABLE dnc_numbers;
DROP TABLE contact_list_members;
DROP TABLE contact_lists;
DROP TABLE contact_attributes;
DROP TABLE contact_tags;
DROP TABLE contacts;
