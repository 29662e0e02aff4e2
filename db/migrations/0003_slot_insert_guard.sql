-- The capacity trigger of 0001 guards UPDATEs; a slot must not be inserted over capacity either
-- (admin overrides included, since they are only ever added to an existing slot).
CREATE TRIGGER slot_no_overbooking_insert BEFORE INSERT ON slot
WHEN NEW.booked_web + NEW.booked_phone + NEW.booked_staff + NEW.booked_over > NEW.capacity
BEGIN
    SELECT RAISE(ABORT, 'slot over capacity');
END;
