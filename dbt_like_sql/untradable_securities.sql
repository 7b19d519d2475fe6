-- Securities a data-quality finding is about (a missing, stale or jumping price, a duplicate
-- price row, a bad master row, ...): their holders are suspended, and nobody else trades
-- them today at a price that cannot be trusted. A fault in one account's rows (a negative
-- lot, a reconciliation break) suspends that account alone and blocks nothing here. A
-- security nobody holds is blocked too (its finding suspends no one, so it is a warning).
select
    dq.security_id,
    string_agg(distinct dq."check", ', ' order by dq."check") as checks
from data_quality_issues as dq
where dq.security_id is not null and dq.blocks_security
group by dq.security_id
order by dq.security_id
