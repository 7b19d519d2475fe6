-- The date's close per security. When several custodians send a close for one
-- security, the alphabetically first custodian's wins (then the earliest file row). A
-- close from a file with a finding about the whole file (cut short, stale, content after
-- its end, ...) is never used: validation blocks a security only it prices.
with closes as (
    select
        p.security_id,
        p.close,
        row_number() over (
            partition by p.security_id
            order by p.custodian nulls last, p.source_file nulls last, p.source_row nulls last
        ) as custodian_rank
    from prices as p
    join run_context as ctx on p.price_date = ctx.as_of
    where p.close is not null and p.security_id is not null
        and p.source_file not in (
            select dq.source_file
            from data_quality_issues as dq
            where dq.source_row is null and dq.source_file is not null
        )
)

select
    closes.security_id,
    closes.close
from closes
where closes.custodian_rank = 1
order by closes.security_id
