-- Account holds in force on the date (both ends inclusive; no end date: open-ended).
select
    h.account_id,
    h.start_date,
    h.end_date,
    h.reason
from holds as h
join run_context as ctx on active_on(h.start_date, h.end_date, ctx.as_of)
order by h.account_id, h.start_date, h.end_date, h.reason
