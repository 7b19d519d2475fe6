-- "Active on a date" for every date window (holds, halts, effective-dated rows, wash-sale
-- windows): started on or before the date, and open-ended (no end) or ending on or after
-- it. A window without a start is never active.
create macro active_on(start_date, end_date, as_of) as
    start_date <= as_of and (end_date is null or as_of <= end_date)
