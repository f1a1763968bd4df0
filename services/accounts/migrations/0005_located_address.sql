-- Derived data beside the record: the location keeps the address it was computed for, and the
-- moment an address started waiting for one. The geocoder locates from this state (the address
-- differs from the located one), not from an event's content, so no trash, restore or lost event
-- can leave an address unlocated; a periodic sweep picks up what is left pending.
ALTER TABLE accounts
    ADD COLUMN located_address jsonb,
    ADD COLUMN location_requested_at timestamptz;

-- Locations found (or not found) before: the geocoder checked they were for the current address.
UPDATE accounts
SET located_address = jsonb_build_object(
    'street', street, 'postal_code', postal_code, 'city', city, 'country', country)
WHERE location_status IN ('found', 'not_found');
UPDATE accounts SET location_requested_at = updated_at WHERE location_status = 'pending';

-- The sweep's query: the few accounts waiting for a location, oldest first.
CREATE INDEX accounts_location_pending ON accounts (location_requested_at)
    WHERE location_status = 'pending';
