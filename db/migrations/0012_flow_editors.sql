-- Staff who may also edit and publish the IVR flows of the phone lines (issue 14: "the admin role or a
-- flow-editor role"): 和泉市's sections set their own numbers' flows from their PCs without being
-- administrators of the whole appliance.
ALTER TABLE staff_user ADD COLUMN edits_flows INTEGER NOT NULL DEFAULT 0 CHECK (edits_flows IN (0, 1));
