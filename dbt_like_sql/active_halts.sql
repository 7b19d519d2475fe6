-- Security trading halts in force on the date (both ends inclusive).
select
    h.security_id,
    h.start_date,
    h.end_date,
    h.reason
from halts as h
join run_context as ctx on h.start_date <= ctx.as_of and ctx.as_of <= h.end_date
order by h.security_id, h.start_date, h.end_date, h.reason
