-- Nothing to undo: the dropped entries held the old defaults, which the code of that
-- release fills in again for any kind a policy does not name.
SELECT 1;
