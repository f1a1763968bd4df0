-- Devis, factures (and credit notes), numbering, and Word templates for mail merge.

-- One unbroken sequence per kind and year. Taking a number locks its row until the
-- transaction ends: concurrent issuers queue, and a rolled-back issue gives its number back.
CREATE TABLE number_sequences (
    kind text    NOT NULL,
    year integer NOT NULL,
    last integer NOT NULL,
    PRIMARY KEY (kind, year)
);

CREATE TABLE quotes (
    id             uuid        PRIMARY KEY,
    number         text        NOT NULL UNIQUE,
    account_id     uuid        NOT NULL,
    contact_id     uuid,
    opportunity_id uuid,
    status         text        NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'sent', 'accepted', 'refused')),
    valid_until    date,
    lines          jsonb       NOT NULL DEFAULT '[]',
    notes          text,
    total_net      numeric(17, 2) NOT NULL DEFAULT 0,
    total_vat      numeric(17, 2) NOT NULL DEFAULT 0,
    total_gross    numeric(17, 2) NOT NULL DEFAULT 0,
    vat_breakdown  jsonb       NOT NULL DEFAULT '[]',
    sent_at        timestamptz,
    decided_at     timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     text        NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    updated_by     text        NOT NULL,
    version        integer     NOT NULL DEFAULT 1,
    deleted_at     timestamptz
);
CREATE INDEX quotes_live_account ON quotes (account_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX quotes_live_created ON quotes (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX quotes_live_updated ON quotes (updated_at, id) WHERE deleted_at IS NULL;

CREATE TABLE invoices (
    id                  uuid        PRIMARY KEY,
    kind                text        NOT NULL DEFAULT 'invoice' CHECK (kind IN ('invoice', 'credit_note')),
    number              text        UNIQUE,
    account_id          uuid        NOT NULL,
    contact_id          uuid,
    quote_id            uuid        REFERENCES quotes (id),
    credited_invoice_id uuid        REFERENCES invoices (id),
    status              text        NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'issued', 'paid', 'cancelled')),
    issue_date          date,
    due_date            date,
    paid_at             timestamptz,
    lines               jsonb       NOT NULL DEFAULT '[]',
    notes               text,
    total_net           numeric(17, 2) NOT NULL DEFAULT 0,
    total_vat           numeric(17, 2) NOT NULL DEFAULT 0,
    total_gross         numeric(17, 2) NOT NULL DEFAULT 0,
    vat_breakdown       jsonb       NOT NULL DEFAULT '[]',
    seller              jsonb,
    pdf                 bytea,
    created_at          timestamptz NOT NULL DEFAULT now(),
    created_by          text        NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    updated_by          text        NOT NULL,
    version             integer     NOT NULL DEFAULT 1,
    deleted_at          timestamptz,
    CHECK (status = 'draft' OR number IS NOT NULL),
    CHECK (deleted_at IS NULL OR number IS NULL)  -- an issued invoice is never trashed
);
CREATE INDEX invoices_live_account ON invoices (account_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX invoices_live_created ON invoices (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX invoices_live_updated ON invoices (updated_at, id) WHERE deleted_at IS NULL;

-- An issued invoice is frozen: only its payment and its cancellation may still be recorded.
CREATE FUNCTION invoices_frozen_once_issued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.number IS NOT NULL AND (
        NEW.lines IS DISTINCT FROM OLD.lines OR NEW.total_gross IS DISTINCT FROM OLD.total_gross
        OR NEW.number IS DISTINCT FROM OLD.number OR NEW.account_id IS DISTINCT FROM OLD.account_id
        OR NEW.issue_date IS DISTINCT FROM OLD.issue_date OR NEW.pdf IS DISTINCT FROM OLD.pdf
        OR NEW.deleted_at IS DISTINCT FROM OLD.deleted_at
    ) THEN
        RAISE EXCEPTION 'invoice % is issued and cannot change', OLD.number;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER invoices_frozen BEFORE UPDATE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_frozen_once_issued();
CREATE FUNCTION invoices_never_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.number IS NOT NULL THEN
        RAISE EXCEPTION 'invoice % is issued and cannot be deleted', OLD.number;
    END IF;
    RETURN OLD;
END;
$$;
CREATE TRIGGER invoices_kept BEFORE DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_never_deleted();

CREATE TABLE templates (
    id         uuid        PRIMARY KEY,
    name       text        NOT NULL,
    kind       text        NOT NULL,
    filename   text        NOT NULL,
    size       integer     NOT NULL,
    content    bytea       NOT NULL,
    variables  jsonb       NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text        NOT NULL,
    version    integer     NOT NULL DEFAULT 1,
    deleted_at timestamptz
);
CREATE INDEX templates_live_created ON templates (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX templates_live_name ON templates (name, id) WHERE deleted_at IS NULL;
