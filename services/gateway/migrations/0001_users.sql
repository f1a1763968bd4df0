CREATE TABLE users (
    id              uuid        PRIMARY KEY,
    username        text        NOT NULL,
    display_name    text        NOT NULL DEFAULT '',
    email           text,
    phone_extension text,
    role            text        NOT NULL CHECK (role IN ('admin', 'user', 'readonly')),
    active          boolean     NOT NULL DEFAULT true,
    password_hash   text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text        NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      text        NOT NULL,
    version         integer     NOT NULL DEFAULT 1
);
-- Login names are unique whatever their case.
CREATE UNIQUE INDEX users_username ON users (lower(username));
