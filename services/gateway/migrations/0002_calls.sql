-- Calls placed from the application (ClickToCall), so that the telephony server's callbacks
-- can be tied back to the account, the contact and the user who clicked.
CREATE TABLE calls (
    call_id    text        PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id),
    username   text        NOT NULL,
    account_id uuid        NOT NULL,
    contact_id uuid,
    number     text        NOT NULL,
    extension  text        NOT NULL,
    adapter    text        NOT NULL,
    placed_at  timestamptz NOT NULL DEFAULT now()
);
