-- The complete Compte: every field of the guide, picklists, contacts, and what makes the list
-- view fast with a million accounts (accent- and case-insensitive sort and search).
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- unaccent() is only STABLE (its dictionary could change); pinning the dictionary makes this
-- wrapper safe to declare IMMUTABLE, so it can feed generated columns and indexes.
CREATE FUNCTION crm_fold(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN lower(public.unaccent('public.unaccent'::regdictionary, value));

CREATE TABLE picklist_values (
    list       text        NOT NULL,
    code       text        NOT NULL,
    label      text        NOT NULL,
    active     boolean     NOT NULL DEFAULT true,
    position   integer     NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text        NOT NULL DEFAULT 'system',
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text        NOT NULL DEFAULT 'system',
    version    integer     NOT NULL DEFAULT 1,
    PRIMARY KEY (list, code)
);

INSERT INTO picklist_values (list, code, label, position) VALUES
    ('account_type', 'prospect', 'Prospect', 1),
    ('account_type', 'client', 'Client', 2),
    ('account_type', 'partenaire', 'Partenaire', 3),
    ('account_type', 'fournisseur', 'Fournisseur', 4),
    ('account_type', 'concurrent', 'Concurrent', 5),
    ('account_type', 'autre', 'Autre', 6),
    ('industry', 'A', 'Agriculture, sylviculture et pêche', 1),
    ('industry', 'B', 'Industries extractives', 2),
    ('industry', 'C', 'Industrie manufacturière', 3),
    ('industry', 'D', 'Production et distribution d''électricité, de gaz, de vapeur et d''air conditionné', 4),
    ('industry', 'E', 'Production et distribution d''eau ; assainissement, gestion des déchets et dépollution', 5),
    ('industry', 'F', 'Construction', 6),
    ('industry', 'G', 'Commerce ; réparation d''automobiles et de motocycles', 7),
    ('industry', 'H', 'Transports et entreposage', 8),
    ('industry', 'I', 'Hébergement et restauration', 9),
    ('industry', 'J', 'Information et communication', 10),
    ('industry', 'K', 'Activités financières et d''assurance', 11),
    ('industry', 'L', 'Activités immobilières', 12),
    ('industry', 'M', 'Activités spécialisées, scientifiques et techniques', 13),
    ('industry', 'N', 'Activités de services administratifs et de soutien', 14),
    ('industry', 'O', 'Administration publique', 15),
    ('industry', 'P', 'Enseignement', 16),
    ('industry', 'Q', 'Santé humaine et action sociale', 17),
    ('industry', 'R', 'Arts, spectacles et activités récréatives', 18),
    ('industry', 'S', 'Autres activités de services', 19),
    ('industry', 'T', 'Activités des ménages en tant qu''employeurs', 20),
    ('industry', 'U', 'Activités extra-territoriales', 21),
    ('civility', 'M', 'Monsieur', 1),
    ('civility', 'MME', 'Madame', 2),
    ('civility', 'DR', 'Docteur', 3),
    ('civility', 'ME', 'Maître', 4),
    ('civility', 'PR', 'Professeur', 5);

ALTER TABLE accounts
    ADD COLUMN account_type      text,
    ADD COLUMN industry          text,
    ADD COLUMN phone             text,
    ADD COLUMN email             text,
    ADD COLUMN website           text,
    ADD COLUMN street            text,
    ADD COLUMN postal_code       text,
    ADD COLUMN city              text,
    ADD COLUMN country           text    NOT NULL DEFAULT 'FR',
    ADD COLUMN siren             text,
    ADD COLUMN siret             text,
    ADD COLUMN vat_number        text,
    ADD COLUMN parent_account_id uuid    REFERENCES accounts (id),
    ADD COLUMN owner             text,
    ADD COLUMN employees         integer CHECK (employees >= 0),
    ADD COLUMN annual_revenue    numeric(17, 2) CHECK (annual_revenue >= 0),
    ADD COLUMN description       text,
    ADD COLUMN lat               double precision,
    ADD COLUMN lon               double precision,
    ADD COLUMN location_precision text,
    ADD COLUMN location_source   text,
    ADD COLUMN location_status   text    NOT NULL DEFAULT 'none'
        CHECK (location_status IN ('none', 'pending', 'found', 'not_found')),
    -- Sort and filter keys: accent- and case-insensitive, in byte order ("C", which also lets
    -- a btree serve LIKE 'prefix%'), and never NULL: keyset pagination compares row values,
    -- where a NULL would end a page early.
    ADD COLUMN sort_name     text COLLATE "C" GENERATED ALWAYS AS (crm_fold(name)) STORED,
    ADD COLUMN sort_city     text COLLATE "C" GENERATED ALWAYS AS (coalesce(crm_fold(city), '')) STORED,
    ADD COLUMN sort_postal   text COLLATE "C" GENERATED ALWAYS AS (coalesce(postal_code, '')) STORED,
    ADD COLUMN sort_type     text COLLATE "C" GENERATED ALWAYS AS (coalesce(account_type, '')) STORED,
    ADD COLUMN sort_industry text COLLATE "C" GENERATED ALWAYS AS (coalesce(industry, '')) STORED,
    ADD COLUMN sort_owner    text COLLATE "C" GENERATED ALWAYS AS (coalesce(lower(owner), '')) STORED,
    ADD COLUMN sort_employees integer GENERATED ALWAYS AS (coalesce(employees, -1)) STORED,
    ADD COLUMN sort_revenue  numeric GENERATED ALWAYS AS (coalesce(annual_revenue, -1)) STORED,
    ADD COLUMN search_text   text GENERATED ALWAYS AS (
        crm_fold(name || ' ' || coalesce(city, '') || ' ' || coalesce(siren, '')
                 || ' ' || coalesce(siret, ''))
    ) STORED;

-- Each sort: (key, id) over live accounts. Each equality filter: (filter, name, id), so that
-- filtering and the default sort by name are one index scan.
DROP INDEX accounts_live_name;
CREATE INDEX accounts_live_sort_name ON accounts (sort_name, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_live_sort_city ON accounts (sort_city, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_live_sort_postal ON accounts (sort_postal, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_live_sort_type ON accounts (sort_type, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_live_sort_industry ON accounts (sort_industry, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_live_sort_owner ON accounts (sort_owner, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_live_sort_employees ON accounts (sort_employees, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_live_sort_revenue ON accounts (sort_revenue, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_live_type_name ON accounts (sort_type, sort_name, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_live_industry_name ON accounts (sort_industry, sort_name, id)
    WHERE deleted_at IS NULL;
CREATE INDEX accounts_live_owner_name ON accounts (sort_owner, sort_name, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_live_city_name ON accounts (sort_city, sort_name, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_live_search ON accounts USING gin (search_text gin_trgm_ops)
    WHERE deleted_at IS NULL;
CREATE INDEX accounts_trashed ON accounts (deleted_at, id) WHERE deleted_at IS NOT NULL;
CREATE INDEX accounts_parent ON accounts (parent_account_id) WHERE parent_account_id IS NOT NULL;
CREATE INDEX accounts_siren ON accounts (siren) WHERE siren IS NOT NULL;
CREATE INDEX accounts_phone ON accounts (phone) WHERE phone IS NOT NULL;

CREATE TABLE contacts (
    id         uuid        PRIMARY KEY,
    account_id uuid        REFERENCES accounts (id),
    civility   text,
    first_name text,
    last_name  text        NOT NULL CHECK (btrim(last_name) <> ''),
    job_title  text,
    email      text,
    phone      text,
    mobile     text,
    description text,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text        NOT NULL,
    version    integer     NOT NULL DEFAULT 1,
    deleted_at timestamptz,
    sort_name  text COLLATE "C"
        GENERATED ALWAYS AS (crm_fold(last_name || ' ' || coalesce(first_name, ''))) STORED
);
CREATE INDEX contacts_live_sort_name ON contacts (sort_name, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_live_account ON contacts (account_id, sort_name, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_live_created ON contacts (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_live_updated ON contacts (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_phone ON contacts (phone) WHERE phone IS NOT NULL;
CREATE INDEX contacts_mobile ON contacts (mobile) WHERE mobile IS NOT NULL;
