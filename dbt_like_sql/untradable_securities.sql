-- Securities the date's data-quality findings name (a missing, stale or jumping price, a
-- duplicate price row, ...): their holders are suspended, and no other account buys them
-- today at a price that cannot be trusted.
select
    dq.security_id,
    string_agg(distinct dq."check", ', ' order by dq."check") as checks
from data_quality_issues as dq
where dq.security_id is not null and dq.severity = 'error'
group by dq.security_id
order by dq.security_id
